"""``export_saved_model``: every architecture served from raw inputs, checked in a fresh process."""

from __future__ import annotations

import os
import pathlib
import re
import stat
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import prediction_log_pb2

import mmzoo
from mmzoo.export import export_saved_model
from mmzoo.preprocessing import Preprocessor
from mmzoo.zoo import save_to_preset
from tests.data_files import pattern, write_image
from tests.export.conftest import (
    ALL_SIGNATURES,
    ARCHITECTURES,
    PRETRAINED,
    TPU_ARCHITECTURE,
    assert_outputs_match,
    pretrained_missing,
)

SAVED_MODEL_CLI = pathlib.Path(sys.executable).with_name("saved_model_cli")
OUTPUTS = {"probabilities", "logits", "class_ids", "class_names"}
WEIGHING = ("attention", "gated", "weighted_sum")  # the fusions that output modality weights


@pytest.fixture(scope="module")
def serve(exports):
    """The raw-input signature of one export, loaded in this process."""
    return tf.saved_model.load(str(exports["concat_tiny"].path)).signatures["serving_default"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_fresh_process_serves_raw_inputs_like_the_keras_model(name, fresh_results, references):
    expected = references[name]["outputs"]
    assert set(expected) == OUTPUTS | ({"modality_weights"} if name.startswith(WEIGHING) else set())
    assert_outputs_match(fresh_results[name]["raw"], expected)


@pytest.mark.slow
@pytest.mark.parametrize("name", PRETRAINED)
def test_fresh_process_serves_pretrained_backbones_from_raw_inputs(name, fresh_results, references):
    """WordPiece, image and audio preprocessing and the backbones in core TF ops only: the
    fresh process imports no TensorFlow Text (it checks), so a custom op would not load."""
    if pretrained_missing(name):
        pytest.skip(pretrained_missing(name))
    assert_outputs_match(fresh_results[name]["raw"], references[name]["outputs"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_SIGNATURES)
def test_fresh_process_serves_preprocessed_tensors_and_tf_examples(name, fresh_results, references):
    assert_outputs_match(fresh_results[name]["preprocessed"], references[name]["outputs"])
    assert_outputs_match(fresh_results[name]["tf_example"], references[name]["outputs"])


@pytest.mark.slow
def test_tpu_export_aliases_the_xla_function_and_it_runs(exports, fresh_results, references):
    meta_graph = saved_model_pb2.SavedModel.FromString(
        (exports["tpu"].path / "saved_model.pb").read_bytes()).meta_graphs[0]
    assert set(meta_graph.meta_info_def.function_aliases.values()) == {"tpu_func"}
    aliased = set(meta_graph.meta_info_def.function_aliases)
    library = {f.signature.name: f for f in meta_graph.graph_def.library.function}
    assert all(library[name].attr["_XlaMustCompile"].b for name in aliased)
    # XLA's arithmetic differs from the Keras model's in the last bits only.
    assert_outputs_match(fresh_results["tpu"]["preprocessed"], references["tpu"]["outputs"],
                         atol=1e-4)
    assert_outputs_match(fresh_results["tpu"]["raw"], references["tpu"]["outputs"])
    plain = saved_model_pb2.SavedModel.FromString(
        (exports[TPU_ARCHITECTURE].path / "saved_model.pb").read_bytes()).meta_graphs[0]
    assert not plain.meta_info_def.function_aliases


def test_layout_is_what_tf_serving_watches(exports):
    path = exports["concat_tiny"].path
    assert path.name == "1" and path.parent.name == "concat_tiny"
    assert (path / "saved_model.pb").is_file() and (path / "variables").is_dir()
    assert (path / "assets.extra" / "tf_serving_warmup_requests").is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == ["1"]  # no temporary folder left
    mask = os.umask(0)
    os.umask(mask)  # a server running as another user can read it, as with any new folder
    assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~mask


def test_signatures_are_predict_with_documented_names(exports):
    meta_graph = saved_model_pb2.SavedModel.FromString(
        (exports["attention_tiny"].path / "saved_model.pb").read_bytes()).meta_graphs[0]
    signatures = meta_graph.signature_def
    assert set(signatures) == {"serving_default", "preprocessed", "tf_example", "__saved_model_init_op"}
    expected_inputs = {"serving_default": {"text", "image", "audio"}, "tf_example": {"examples"},
                       "preprocessed": {"text", "image", "audio", "text_present", "image_present",
                                        "audio_present"}}
    for name, inputs in expected_inputs.items():
        assert signatures[name].method_name == "tensorflow/serving/predict"
        assert set(signatures[name].inputs) == inputs
        assert set(signatures[name].outputs) == OUTPUTS | {"modality_weights"}
    assert {i.dtype for i in signatures["serving_default"].inputs.values()} == {tf.string.as_datatype_enum}


def test_warmup_requests_replay_through_the_signature_they_name(exports):
    path = exports["gated_tiny"].path
    loaded = tf.saved_model.load(str(path))
    records = list(tf.data.TFRecordDataset(str(path / "assets.extra" / "tf_serving_warmup_requests")))
    assert len(records) == 2  # all modalities present; then each one absent in turn
    for record in records:
        request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        signature = loaded.signatures[request.model_spec.signature_name]
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        assert set(inputs) == set(signature.structured_input_signature[1])
        outputs = signature(**{name: tf.constant(value) for name, value in inputs.items()})
        assert np.isfinite(outputs["probabilities"].numpy()).all()
    last_batch = np.stack([inputs[m] for m in ("text", "image", "audio")], axis=1)
    assert last_batch.shape == (3, 3)
    assert (last_batch == b"").tolist() == np.eye(3, dtype=bool).tolist()


@pytest.mark.parametrize("modality, corrupt", [
    ("image", b"\x89PNG\r\n\x1a\n truncated"),
    ("image", b"not an image at all"),
    ("audio", b"RIFF\x24\x00\x00\x00WAVEfmt "),
    ("audio", b"ID3 an mp3 file"),
])
def test_undecodable_bytes_raise_invalid_argument_naming_the_input(modality, corrupt, serve, raw):
    inputs = {m: list(v) for m, v in raw.items()}
    inputs[modality][4] = corrupt
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        serve(**{m: tf.constant(v) for m, v in inputs.items()})
    assert re.search(rf"\[{modality}: the examples at these batch indices are not [^]]*\] \[4\]",
                     error.value.message), error.value.message


def test_versions_increment_and_are_never_overwritten(tmp_path):
    model, preprocessor = _image_model()
    assert export_saved_model(model, tmp_path, preprocessor=preprocessor) == tmp_path / "1"
    assert export_saved_model(model, tmp_path, 7, preprocessor=preprocessor) == tmp_path / "7"
    assert export_saved_model(model, tmp_path, preprocessor=preprocessor) == tmp_path / "8"
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_saved_model(model, tmp_path, 7, preprocessor=preprocessor)
    export_saved_model(model, tmp_path, 7, preprocessor=preprocessor, overwrite=True,
                       class_names=["rock", "paper", "scissors", "lizard"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "7", "8"]
    names = tf.saved_model.load(str(tmp_path / "7")).signatures["serving_default"](
        image=tf.constant([_png()]))["class_names"].numpy()
    assert names[0] in {b"rock", b"paper", b"scissors", b"lizard"}


def test_the_version_folder_appears_only_once_complete(tmp_path, monkeypatch):
    model, preprocessor = _image_model()
    seen_while_writing = []
    save = tf.saved_model.save

    def observing_save(obj, export_dir, **kwargs):
        seen_while_writing.extend(p.name for p in tmp_path.iterdir())
        save(obj, export_dir, **kwargs)

    monkeypatch.setattr(tf.saved_model, "save", observing_save)
    export_saved_model(model, tmp_path, 3, preprocessor=preprocessor)
    assert len(seen_while_writing) == 1 and seen_while_writing[0].startswith(".tmp-3-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3"]


def test_a_version_written_meanwhile_by_another_export_is_kept(tmp_path, monkeypatch):
    model, preprocessor = _image_model()
    save = tf.saved_model.save

    def save_while_another_export_finishes(obj, export_dir, **kwargs):
        save(obj, export_dir, **kwargs)
        (tmp_path / "1").mkdir()
        (tmp_path / "1" / "saved_model.pb").write_text("the other export")

    monkeypatch.setattr(tf.saved_model, "save", save_while_another_export_finishes)
    with pytest.raises(FileExistsError, match="written by someone else"):
        export_saved_model(model, tmp_path, preprocessor=preprocessor)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1"]
    assert (tmp_path / "1" / "saved_model.pb").read_text() == "the other export"


def test_an_interrupted_export_leaves_nothing_behind(tmp_path, monkeypatch):
    model, preprocessor = _image_model()

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("mmzoo.export._write_warmup_requests", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_saved_model(model, tmp_path, preprocessor=preprocessor)
    assert list(tmp_path.iterdir()) == []


def test_a_preset_exports_with_its_preprocessor_and_class_names(tmp_path):
    model, preprocessor = _image_model()
    preset = save_to_preset(model, tmp_path / "preset", class_names=["ant", "bee", "cow", "doe"],
                            preprocessor=preprocessor)
    path = export_saved_model(str(preset), tmp_path / "serving")
    outputs = tf.saved_model.load(str(path)).signatures["serving_default"](
        image=tf.constant([_png(), b""]))
    expected = model(preprocessor({"image": tf.constant([_png(), b""])}), training=False)
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-6)
    assert list(outputs["class_names"].numpy()) == [
        ["ant", "bee", "cow", "doe"][i].encode() for i in np.argmax(expected, axis=-1)]


def test_a_binary_head_names_the_class_its_probability_picks(tmp_path):
    model, preprocessor = _image_model(task="binary", num_classes=1)
    path = export_saved_model(model, tmp_path, preprocessor=preprocessor, class_names=["no", "yes"])
    images = [write_image(tmp_path / f"{seed}.png", pattern(8, 8, 3, seed)).read_bytes()
              for seed in range(6)]
    outputs = tf.saved_model.load(str(path)).signatures["serving_default"](image=tf.constant(images))
    probability = model(preprocessor({"image": tf.constant(images)}), training=False).numpy()[:, 0]
    np.testing.assert_allclose(outputs["probabilities"].numpy()[:, 0], probability, atol=1e-6)
    np.testing.assert_array_equal(outputs["class_ids"], probability >= 0.5)
    assert list(outputs["class_names"].numpy()) == [b"yes" if p >= 0.5 else b"no" for p in probability]


def test_bad_arguments_are_explained(tmp_path):
    model, preprocessor = _image_model()
    with pytest.raises(ValueError, match="needs preprocessor="):
        export_saved_model(model, tmp_path)
    with pytest.raises(ValueError, match="class_names has 2 names but .* needs 4"):
        export_saved_model(model, tmp_path, preprocessor=preprocessor, class_names=["a", "b"])
    with pytest.raises(ValueError, match="not an mmzoo classifier"):
        export_saved_model(mmzoo.with_modality_weights(mmzoo.create_model("gated_tiny")), tmp_path,
                           preprocessor=preprocessor)
    logits_model, _ = _image_model(classifier_activation=None)
    with pytest.raises(ValueError, match="classifier_activation='auto'"):
        export_saved_model(logits_model, tmp_path, preprocessor=preprocessor)
    other_size = Preprocessor(image=mmzoo.ImageSpec(16, 16, 3))
    with pytest.raises(ValueError, match="the preprocessor makes"):
        export_saved_model(model, tmp_path, preprocessor=other_size)
    with pytest.raises(ValueError, match="versions are integers >= 1"):
        export_saved_model(model, tmp_path, 0, preprocessor=preprocessor)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_saved_model_cli_shows_the_signatures(exports):
    shown = _saved_model_cli("show", "--dir", exports["attention_tiny"].path, "--all")
    default = shown.split("signature_def['serving_default']:")[1].split("signature_def[")[0]
    for name in ("text", "image", "audio"):
        assert f"inputs['{name}'] tensor_info:\n        dtype: DT_STRING\n        shape: (-1)" in default
    for name, dtype in [("probabilities", "DT_FLOAT"), ("logits", "DT_FLOAT"), ("class_ids", "DT_INT64"),
                        ("class_names", "DT_STRING"), ("modality_weights", "DT_FLOAT")]:
        assert f"outputs['{name}'] tensor_info:\n        dtype: {dtype}" in default
    assert "Method name is: tensorflow/serving/predict" in default
    assert "output_0" not in shown


@pytest.mark.slow
def test_saved_model_cli_runs_the_raw_signature(exports, references, raw, tmp_path):
    for modality in ("image", "audio"):
        np.save(tmp_path / f"{modality}.npy", np.array(raw[modality], dtype=object))
    _saved_model_cli(
        "run", "--dir", exports["attention_tiny"].path, "--tag_set", "serve",
        "--signature_def", "serving_default", "--input_exprs", f"text={raw['text']!r}",
        "--inputs", f"image={tmp_path / 'image.npy'};audio={tmp_path / 'audio.npy'}",
        "--outdir", tmp_path / "out")
    expected = references["attention_tiny"]["outputs"]
    np.testing.assert_allclose(np.load(tmp_path / "out" / "probabilities.npy"),
                               expected["probabilities"], atol=1e-5)
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "class_names.npy", allow_pickle=True)
                                  .astype(bytes), expected["class_names"])


def _saved_model_cli(*args) -> str:
    completed = subprocess.run([str(SAVED_MODEL_CLI), *map(str, args)], capture_output=True,
                               text=True, timeout=300,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def _image_model(**overrides):
    """A tiny image-only classifier (4 classes) and its preprocessor: fast to export."""
    model = mmzoo.create_model("concat_tiny", modalities=("image",), **overrides)
    return model, Preprocessor(image=mmzoo.models.model_config("concat_tiny")["image"])


def _png() -> bytes:
    return tf.io.encode_png(pattern(10, 14, 3)).numpy()

