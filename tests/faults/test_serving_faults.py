"""Bad serving requests and export-folder faults.

Every bad request goes to an exported model (plain, and the TPU export whose
``preprocessed`` model call is XLA-compiled) loaded in a fresh process that imports only
TensorFlow, and must fail with ``InvalidArgumentError`` naming the input and the batch
indices of the bad examples. The same batches without the fault give the in-process Keras
model's outputs. The export-folder faults fail before anything is written, naming the path.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import pathlib
import re
import subprocess
from collections.abc import Callable

import numpy as np
import pytest
import tensorflow as tf

import mmzoo
from mmzoo.export import export_saved_model
from mmzoo.models import model_config
from mmzoo.preprocessing import Preprocessor
from mmzoo.specs import MODALITIES
from tests.data_files import pattern, tone, write_audio, write_image
from tests.export.conftest import (
    as_numpy,
    assert_outputs_match,
    reference_outputs,
    run_fresh_process,
    serialized_examples,
)

ARCHITECTURE = "attention_tiny"  # text, image and audio; its fusion outputs modality weights
SPECS = model_config(ARCHITECTURE)
TEXT, IMAGE, AUDIO = SPECS["text"], SPECS["image"], SPECS["audio"]
EXPORTS = ("plain", "tpu")
SIGNATURES = {"raw": "serving_default", "preprocessed": "preprocessed", "tf_example": "tf_example"}


@dataclasses.dataclass(frozen=True)
class Case:
    """A good batch of ``signature`` with ``corrupt`` applied; the input and indices to name."""

    id: str
    signature: str
    corrupt: Callable[[dict], None]
    input: str
    indices: tuple[int, ...] = ()  # the bad examples; none: the batch is wrong as a whole
    fault: str = "shape"  # without indices: "shape", "count" (of examples) or "empty"

    def message(self) -> str:
        """A regular expression the error message must match."""
        if self.indices:
            indices = " ".join(map(str, self.indices))
            return rf"\[{self.input}: the examples at these batch indices .+?:\] \[{indices}\]"
        return {"shape": rf"\[{self.input}: the batch must have shape \(examples,[0-9, ]*\); got\]",
                "count": rf"\[\w+: every input needs one value per example; .*\b{self.input} "
                         r"has\] \[2\]",  # the two inputs and their counts, 2 for the one cut
                "empty": rf"\[{self.input}: the request has no examples; send at least one.\]",
                }[self.fault]


def good_raw(folder: pathlib.Path) -> dict[str, list]:
    """Three examples: odd but valid UTF-8 (a BOM, an emoji, U+FFFD), each modality absent once."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "text": ["a red frog", "\ufeffcafé ☕ 😀 \ufffd naïve frog", ""],
        "image": [write_image(folder / "a.png", pattern(20, 30, 3)).read_bytes(), b"",
                  write_image(folder / "b.jpg", pattern(40, 24, 3, seed=2)).read_bytes()],
        "audio": [write_audio(folder / "a.wav", tone(0.5, 8000), 8000).read_bytes(),
                  write_audio(folder / "b.wav", tone(0.3, 16000, 300.0), 16000).read_bytes(), b""],
    }


def with_edge_values(features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Features as the pipelines make them, plus the extreme values they allow."""
    features = {name: value.copy() for name, value in features.items()}
    features["image"][0, 0, 0] = [0.0, 255.0, 0.0]
    features["text"][1, -1] = TEXT.vocabulary_size - 1
    features["audio"][1, :3] = [-1.0, 1.0, 0.0]
    return features


def setter(name: str, index, value) -> Callable[[dict], None]:
    def corrupt(batch):
        batch[name][index] = value
    return corrupt


def replaced(name: str, make) -> Callable[[dict], None]:
    def corrupt(batch):
        batch[name] = make(batch[name])
    return corrupt


def emptied(batch):
    for name in batch:
        batch[name] = batch[name][:0]


def example(**features: tf.train.Feature) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


NOT_UTF8 = {  # all rejected by Python's strict UTF-8 decoder, as in the pipelines
    "latin-1": b"caf\xe9 frog",
    "utf-16-bom": b"\xff\xfea\x00",
    "cut-multibyte": "frog ☕".encode()[:-1],
    "surrogate": b"\xed\xa0\x80 frog",
    "overlong": b"\xc0\xaf",
    "beyond-unicode": b"\xf4\x90\x80\x80",
}


def cases() -> list[Case]:
    raw = [Case(f"text-{name}", "raw", setter("text", 1, value), "text", (1,))
           for name, value in NOT_UTF8.items()]
    raw += [
        Case("text-two-bad", "raw", setter(
            "text", [0, 2], [NOT_UTF8["latin-1"], NOT_UTF8["overlong"]]), "text", (0, 2)),
        Case("raw-text-fewer-examples", "raw", replaced("text", lambda v: v[:2]), "text",
             fault="count"),
        Case("raw-no-examples", "raw", emptied, r"\w+", fault="empty"),
    ]
    preprocessed = [
        Case("image-nan", "preprocessed", setter("image", (1, 5, 5, 0), np.nan), "image", (1,)),
        Case("image-inf", "preprocessed", setter("image", (2, 0, 0, 2), np.inf), "image", (2,)),
        Case("image-minus-inf", "preprocessed", setter("image", (0, 1, 1, 1), -np.inf), "image",
             (0,)),
        Case("image-negative", "preprocessed", setter("image", (1, 9, 3, 0), -1.0), "image", (1,)),
        Case("image-over-255", "preprocessed", setter("image", (2, 31, 31, 2), 255.5), "image",
             (2,)),
        Case("image-wrong-height", "preprocessed", replaced("image", lambda v: v[:, 1:]), "image"),
        Case("image-wrong-width", "preprocessed",
             replaced("image", lambda v: np.pad(v, [(0, 0), (0, 0), (0, 1), (0, 0)])), "image"),
        Case("image-wrong-channels", "preprocessed", replaced("image", lambda v: v[..., :1]),
             "image"),
        Case("text-negative-id", "preprocessed", setter("text", (0, 2), -1), "text", (0,)),
        Case("text-out-of-vocabulary", "preprocessed",
             setter("text", (2, 0), TEXT.vocabulary_size), "text", (2,)),
        Case("text-wrong-length", "preprocessed", replaced("text", lambda v: v[:, :-1]), "text"),
        Case("audio-nan", "preprocessed", setter("audio", (1, 100), np.nan), "audio", (1,)),
        Case("audio-inf", "preprocessed", setter("audio", (0, 0), -np.inf), "audio", (0,)),
        Case("audio-wrong-length", "preprocessed",
             replaced("audio", lambda v: np.pad(v, [(0, 0), (0, 1)])), "audio"),
        Case("image-presence-2", "preprocessed", setter("image_present", 1, 2.0),
             "image_present", (1,)),
        Case("audio-presence-half", "preprocessed", setter("audio_present", 2, 0.5),
             "audio_present", (2,)),
        Case("text-presence-nan", "preprocessed", setter("text_present", 0, np.nan),
             "text_present", (0,)),
        Case("image-one-example-unbatched", "preprocessed", replaced("image", lambda v: v[0]),
             "image"),
        Case("image-rank-5", "preprocessed", replaced("image", lambda v: v[None]), "image"),
        Case("presence-flags-2d", "preprocessed",
             replaced("text_present", lambda v: v[:, None]), "text_present"),
        Case("presence-flag-scalar", "preprocessed",
             replaced("audio_present", lambda v: v[0]), "audio_present"),
        Case("audio-fewer-examples", "preprocessed", replaced("audio", lambda v: v[:2]),
             "audio", fault="count"),
        Case("preprocessed-no-examples", "preprocessed", emptied, r"\w+", fault="empty"),
    ]
    tf_example = [
        Case("example-not-a-proto", "tf_example", setter("examples", 1, b"\xff\xff not a proto"),
             "examples", (1,)),
        Case("example-cut", "tf_example",
             lambda b: b["examples"].__setitem__(0, b["examples"][0][:-7]), "examples", (0,)),
        Case("example-int-text", "tf_example", setter("examples", 2, example(
            text=tf.train.Feature(int64_list=tf.train.Int64List(value=[3])))), "examples", (2,)),
        Case("example-float-image", "tf_example", setter("examples", 1, example(
            image=tf.train.Feature(float_list=tf.train.FloatList(value=[0.5])))), "examples", (1,)),
        Case("example-two-texts", "tf_example", setter("examples", 0, example(
            text=tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a", b"b"])))),
             "examples", (0,)),
        Case("example-text-not-utf8", "tf_example", setter("examples", 2, example(
            text=tf.train.Feature(bytes_list=tf.train.BytesList(value=[NOT_UTF8["latin-1"]])))),
             "text", (2,)),
        Case("examples-none", "tf_example", emptied, "examples", fault="empty"),
    ]
    return raw + preprocessed + tf_example


CASES = cases()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The exports, the good batches, the Keras references and every call's fresh-process result."""
    folder = tmp_path_factory.mktemp("serving_faults")
    preprocessor = Preprocessor(**{m: SPECS[m] for m in MODALITIES}).adapt(
        ["a red frog", "the cat barks", "a dog and a frog"])
    model = mmzoo.create_model(ARCHITECTURE)
    class_names = [f"class-{i}" for i in range(model.output.shape[-1])]
    paths = {key: export_saved_model(model, folder / key, preprocessor=preprocessor,
                                     class_names=class_names, tpu=key == "tpu")
             for key in EXPORTS}
    raw = good_raw(folder / "media")
    raw_features = as_numpy(preprocessor({m: tf.constant(v) for m, v in raw.items()}))
    features = with_edge_values(raw_features)
    good = {"raw": {m: np.array(v, dtype=object) for m, v in raw.items()},
            "preprocessed": features,
            "tf_example": {"examples": np.array(serialized_examples(raw), dtype=object)}}
    references = {"raw": reference_outputs(model, raw_features, class_names),
                  "preprocessed": reference_outputs(model, features, class_names)}
    references["tf_example"] = references["raw"]
    calls = {f"good-{name}": (SIGNATURES[name], batch) for name, batch in good.items()}
    for case in CASES:
        batch = copy.deepcopy(good[case.signature])
        case.corrupt(batch)
        calls[case.id] = (SIGNATURES[case.signature], batch)
    results = run_fresh_process(
        {key: {"path": str(path), "calls": calls} for key, path in paths.items()},
        tmp_path_factory.mktemp("fresh"))
    return {"references": references, "results": results}


@pytest.mark.slow
@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("signature", SIGNATURES)
def test_good_requests_get_the_keras_models_outputs(served, export, signature):
    atol = 1e-4 if (export, signature) == ("tpu", "preprocessed") else 1e-5  # XLA's last bits
    assert_outputs_match(served["results"][export][f"good-{signature}"],
                         served["references"][signature], atol=atol)


@pytest.mark.slow
@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_requests_fail_naming_the_input_and_the_examples(served, export, case):
    result = served["results"][export][case.id]
    assert isinstance(result, tuple), f"{case.id} was answered: {result}"
    error, message = result
    assert error == "InvalidArgumentError", message
    assert re.search(case.message(), message), message


def test_the_text_cases_are_what_the_pipelines_reject():
    for value in NOT_UTF8.values():
        with pytest.raises(UnicodeDecodeError):
            value.decode("utf-8")


# Export-folder faults: each fails before anything is written and leaves the folder as it was.

@pytest.fixture(scope="module")
def image_model():
    model = mmzoo.create_model("concat_tiny", modalities=("image",))
    return model, Preprocessor(image=model_config("concat_tiny")["image"])


def snapshot(folder: pathlib.Path) -> dict:
    """Every entry under ``folder`` (links not followed): its kind and a file's bytes."""
    entries = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            entries[path] = ("link", os.readlink(path))
        elif path.is_file():
            entries[path] = ("file", path.read_bytes())
        else:
            entries[path] = ("folder", None)
    return entries


def stray_file(base: pathlib.Path) -> pathlib.Path:
    (base / "1").mkdir(parents=True)
    (base / "1" / "saved_model.pb").write_bytes(b"version 1")
    (base / "2").write_text("notes")
    return base / "2"


def stray_link(base: pathlib.Path) -> pathlib.Path:
    base.mkdir()
    (base / "3").symlink_to(base / "nowhere")
    return base / "3"


def file_base(base: pathlib.Path) -> pathlib.Path:
    base.write_text("not a folder")
    return base


FOLDER_FAULTS = [  # (id, setup returning the path to name, export arguments, error, hint)
    ("file-named-2-next-version", stray_file, {}, FileExistsError, "Move or delete it"),
    ("file-named-2-version-2", stray_file, {"version": 2}, FileExistsError, "Move or delete it"),
    ("file-named-2-overwrite", stray_file, {"version": 2, "overwrite": True}, FileExistsError,
     "Move or delete it"),
    ("file-named-2-other-version", stray_file, {"version": 9}, FileExistsError,
     "Move or delete it"),
    ("broken-link-named-3", stray_link, {}, FileExistsError, "Move or delete it"),
    ("base-dir-is-a-file", file_base, {}, NotADirectoryError, "pass a folder's path"),
]


@pytest.mark.parametrize("setup, arguments, error, hint",
                         [fault[1:] for fault in FOLDER_FAULTS], ids=[f[0] for f in FOLDER_FAULTS])
def test_export_folder_faults_name_the_path(image_model, tmp_path, setup, arguments, error, hint):
    model, preprocessor = image_model
    base = tmp_path / "serving"
    culprit = setup(base)
    before = snapshot(tmp_path)
    with pytest.raises(error) as raised:
        export_saved_model(model, base, preprocessor=preprocessor, **arguments)
    assert str(culprit) in str(raised.value) and hint in str(raised.value), raised.value
    assert snapshot(tmp_path) == before


def test_export_under_a_file_names_the_folder(image_model, tmp_path):
    model, preprocessor = image_model
    (tmp_path / "models").write_text("a file")
    before = snapshot(tmp_path)
    with pytest.raises(NotADirectoryError) as raised:
        export_saved_model(model, tmp_path / "models" / "birds", preprocessor=preprocessor)
    assert f"cannot write in {tmp_path / 'models' / 'birds'}" in str(raised.value)
    assert snapshot(tmp_path) == before


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody may write in: mode 0555, and as root (whom modes do not stop) immutable."""
    folder = tmp_path / "serving"
    (folder / "1").mkdir(parents=True)
    folder.chmod(0o555)
    immutable = os.geteuid() == 0
    if immutable and subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
        pytest.skip("running as root and chattr +i is unavailable: a folder cannot be read-only")
    yield folder
    if immutable:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    folder.chmod(0o755)


def test_a_read_only_folder_is_named(image_model, read_only_folder):
    model, preprocessor = image_model
    with pytest.raises(PermissionError) as raised:
        export_saved_model(model, read_only_folder, preprocessor=preprocessor)
    message = str(raised.value)
    assert f"cannot write in {read_only_folder}" in message, message
    assert "a folder you can write to" in message
    assert sorted(p.name for p in read_only_folder.iterdir()) == ["1"]
