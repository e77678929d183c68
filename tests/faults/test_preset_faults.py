"""Corpus, family "presets": damaged or malformed preset folders, loaded from a folder or a URL.

Each case alters a copy of a saved preset and asserts the exact error type (never
a KeyError, TypeError, AttributeError, or a bare JSON/Unicode error), that the
message names the file at fault and says what to do, and, through a URL, that
nothing entered the cache.
"""

import hashlib
import json
import os
import re

import keras
import pytest

import mmzoo
from mmzoo.zoo import ChecksumError, DownloadError, from_preset, load_preprocessor, preset_info
from tests.zoo import conftest as zoo
from tests.zoo.http_server import serve

# The zoo's fixtures: a cache in tmp_path, the registry restored, the tiny preset and a copy.
mmzoo_home, _isolated_registry, saved, preset_copy = (
    zoo.mmzoo_home, zoo._isolated_registry, zoo.saved, zoo.preset_copy)

METADATA, CONFIG, WEIGHTS, PREPROCESSOR = (
    "metadata.json", "config.json", "model.weights.h5", "preprocessor.json")
REMEDY = "save or download the preset again"


DELETE = object()
SHA = "0" * 64


def edit(field, value):
    """An edit of the metadata that sets ``field`` (``"files.config.json"``: a nested one)."""
    def apply(metadata):
        *parents, last = field.split(".", 1) if field.startswith(("files.", "sizes.")) else [field]
        target = metadata[parents[0]] if parents else metadata
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return apply

# (id, what metadata.json becomes: bytes, or an edit of its content; the message after its name)
METADATA_CASES = [
    ("not-json", b'{"class_names": [', r" is not valid JSON \(Expecting value, line 1\)"),
    ("not-utf8", b'\xff\xfe{\x00}\x00', r" is not UTF-8 text \(byte 0 is 0xff\)"),
    ("nested-too-deep", b"[" * 100_000, r" nests JSON values too deeply to be read"),
    ("json-array", b"[1, 2]", r" holds \[1, 2\], not a JSON object"),
    ("json-null", b"null", r" holds None, not a JSON object"),
    ("json-string", b'"tiny"', r" holds 'tiny', not a JSON object"),
    ("no-class-names", edit("class_names", DELETE), r" lacks \['class_names'\]"),
    ("no-files", edit("files", DELETE), r" lacks \['files'\]"),
    ("files-a-list", edit("files", [CONFIG, WEIGHTS]),
     r" has files=\['config.json', 'model.weights.h5'\], not an object of file name to sha256"),
    ("files-sha256-short", edit(f"files.{CONFIG}", "abc"),
     r" has files whose sha256 is not 64 lowercase hex digits: \{'config.json': 'abc'\}"),
    ("files-sha256-upper-case", edit(f"files.{CONFIG}", "A" * 64),
     r" has files whose sha256 is not 64 lowercase hex digits: \{'config.json': 'AAAA"),
    ("files-sha256-a-number", edit(f"files.{CONFIG}", 12),
     r" has files whose sha256 is not 64 lowercase hex digits: \{'config.json': 12\}"),
    ("files-sha256-null", edit(f"files.{WEIGHTS}", None),
     r" has files whose sha256 is not 64 lowercase hex digits: \{'model.weights.h5': None\}"),
    ("files-without-config", edit(f"files.{CONFIG}", DELETE), r" lacks \['files.config.json'\]"),
    ("files-without-weights", edit(f"files.{WEIGHTS}", DELETE),
     r" lacks \['files.model.weights.h5'\]"),
    ("files-list-metadata", edit(f"files.{METADATA}", SHA), r" lists itself under files"),
    ("class-names-a-string", edit("class_names", "bird cat dog frog"),
     r" has class_names='bird cat dog frog', not a non-empty list of strings"),
    ("class-names-with-numbers", edit("class_names", ["bird", 1, 2, 3]),
     r" has class_names=\['bird', 1, 2, 3\], not a non-empty list of strings"),
    ("class-names-empty", edit("class_names", []), r" has class_names=\[\], not a non-empty list"),
    ("class-names-null", edit("class_names", None), r" has class_names=None"),
    ("task-unknown", edit("task", "regression"),
     r" has task='regression', not one of \['multiclass', 'binary', 'multilabel'\]"),
    ("task-a-list", edit("task", ["multiclass"]), r" has task=\['multiclass'\], not one of"),
    ("sizes-a-list", edit("sizes", [1, 2]), r" has sizes=\[1, 2\], not an object of file name"),
    ("sizes-negative", edit(f"sizes.{WEIGHTS}", -1), r" has sizes=\{.*'model.weights.h5': -1"),
    ("sizes-a-string", edit(f"sizes.{WEIGHTS}", "125 kB"), r" has sizes=\{.*'125 kB'"),
    ("sizes-true", edit(f"sizes.{WEIGHTS}", True), r" has sizes=\{.*True"),
    ("sizes-of-an-unlisted-file", edit("sizes.notes.txt", 10), r" has sizes=\{.*'notes.txt': 10"),
]


def write_metadata(folder, change):
    path = folder / METADATA
    if isinstance(change, bytes):
        path.write_bytes(change)
    else:
        metadata = json.loads(path.read_text())
        change(metadata)
        path.write_text(json.dumps(metadata))


@pytest.mark.parametrize("source", ["folder", "url"])
@pytest.mark.parametrize("change, message", [
    pytest.param(change, message, id=case) for case, change, message in METADATA_CASES])
def test_malformed_metadata_is_named_with_what_is_wrong(preset_copy, mmzoo_home, source, change,
                                                        message):
    write_metadata(preset_copy, change)
    for load in (from_preset, preset_info, load_preprocessor):
        with serve(preset_copy.parent) as url, pytest.raises(ValueError) as error:
            load(preset_copy if source == "folder" else f"{url}/tiny")
        assert type(error.value) is ValueError  # not a UnicodeDecodeError, JSONDecodeError...
        where = os.fspath(preset_copy / METADATA) if source == "folder" else f"{url}/tiny/{METADATA}"
        assert error.match(f"^{re.escape(where)}{message}")
        assert REMEDY in str(error.value)
    assert not mmzoo_home.exists()  # nothing from the URL entered the cache


def test_metadata_missing_from_a_url_is_named(preset_copy, mmzoo_home):
    (preset_copy / METADATA).unlink()
    with serve(preset_copy.parent) as url, pytest.raises(DownloadError) as error:
        from_preset(f"{url}/tiny")
    assert error.match(f"^{re.escape(url)}/tiny/{METADATA} answered HTTP 404")
    assert not mmzoo_home.exists()


def resign(folder, name):
    """Record ``name``'s current sha256 and size in metadata.json, as if saved so."""
    path = folder / name
    write_metadata(folder, lambda metadata: (
        metadata["files"].update({name: hashlib.sha256(path.read_bytes()).hexdigest()}),
        metadata["sizes"].update({name: path.stat().st_size})))


def replace_file(name, content, signed=True):
    """A change writing ``content`` (bytes, or JSON for anything else) to ``name``."""
    def apply(folder):
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
        if signed:
            resign(folder, name)
    return apply


def other_weights(folder):
    """The weights of another architecture (3 classes, not 4), signed."""
    mmzoo.create_model("concat_tiny", num_classes=3).save_weights(folder / WEIGHTS)
    resign(folder, WEIGHTS)


def remove(name):
    return lambda folder: (folder / name).unlink()


def make_directory(name):
    def apply(folder):
        (folder / name).unlink()
        (folder / name).mkdir()
    return apply


def symlink_loop(name):
    def apply(folder):
        (folder / name).unlink()
        (folder / name).symlink_to(name)
    return apply


DENSE = keras.saving.serialize_keras_object(keras.layers.Dense(2))
# (id, change of the folder, loader, error type, file named, message after the file's name)
FILE_CASES = [
    ("weights-missing", remove(WEIGHTS), from_preset, FileNotFoundError, "",
     r"preset folder .* lacks \['model.weights.h5'\]; copy or download the whole folder again"),
    ("config-missing", remove(CONFIG), from_preset, FileNotFoundError, "",
     r"preset folder .* lacks \['config.json'\]"),
    ("metadata-missing", remove(METADATA), from_preset, FileNotFoundError, "",
     r".* is not a preset folder: it has no metadata.json \(mmzoo.save_to_preset writes one\)"),
    ("weights-a-directory", make_directory(WEIGHTS), from_preset, FileNotFoundError, "",
     r"preset folder .* lacks \['model.weights.h5'\]"),
    ("preprocessor-a-symlink-loop", symlink_loop(PREPROCESSOR), load_preprocessor,
     FileNotFoundError, "", r"preset folder .* lacks \['preprocessor.json'\]"),
    ("config-changed", replace_file(CONFIG, {"class_name": "Functional"}, signed=False),
     from_preset, ChecksumError, CONFIG, r" has sha256 [0-9a-f]{64}, expected [0-9a-f]{64}\. It "
     r"changed after the preset was saved"),
    ("weights-truncated", replace_file(WEIGHTS, b"\x89HDF\r\n", signed=False), from_preset,
     ChecksumError, WEIGHTS, r" has sha256 [0-9a-f]{64}, expected"),
    ("config-not-json", replace_file(CONFIG, b"{'class_name': 'Functional'}"), from_preset,
     ValueError, CONFIG, r" is not valid JSON \(Expecting property name .*, line 1\): the preset "
     r"is damaged; save or download the preset again"),
    ("config-a-json-list", replace_file(CONFIG, [1, 2]), from_preset, ValueError, CONFIG,
     r" describes a list, not a Model: it is not a preset's file; save the preset again"),
    ("config-a-layer", replace_file(CONFIG, DENSE), from_preset, ValueError, CONFIG,
     r" describes a Dense, not a Model"),
    ("config-unknown-class", replace_file(CONFIG, {"class_name": "MyEncoder", "config": {}}),
     from_preset, ValueError, CONFIG, r" is not a Model that Keras can build \(TypeError: Could "
     r"not locate class 'MyEncoder'.*register_keras_serializable"),
    ("config-no-class", replace_file(CONFIG, {"layers": []}), from_preset, ValueError, CONFIG,
     r" describes a dict, not a Model"),
    ("weights-not-hdf5", replace_file(WEIGHTS, b"not weights" * 100), from_preset, ValueError,
     WEIGHTS, r" does not hold weights for the model of .*config.json \(.*\); save the preset"),
    ("weights-of-another-model", other_weights, from_preset, ValueError, WEIGHTS,
     r" does not hold weights for the model of .*config.json"),
    ("class-names-do-not-fit", lambda folder: write_metadata(folder, edit("class_names", list("abc"))),
     from_preset, ValueError, METADATA, r" does not fit the model of .*config.json: class_names "
     r"has 3 names but the multiclass model .* needs 4 \(one per class\)\. Save the preset again"),
    ("preprocessor-a-layer", replace_file(PREPROCESSOR, DENSE), load_preprocessor, ValueError,
     PREPROCESSOR, r" describes a Dense, not a Preprocessor"),
    ("preprocessor-not-json", replace_file(PREPROCESSOR, b"\x00" * 10), load_preprocessor,
     ValueError, PREPROCESSOR, r" is not valid JSON"),
]


@pytest.mark.parametrize("change, load, error_type, culprit, message", [
    pytest.param(*case[1:], id=case[0]) for case in FILE_CASES])
def test_a_damaged_preset_file_is_named_with_what_to_do(preset_copy, change, load, error_type,
                                                        culprit, message):
    change(preset_copy)
    with pytest.raises(error_type) as error:
        load(preset_copy)
    assert type(error.value) is error_type
    named = os.fspath(preset_copy / culprit) if culprit else ""
    assert error.match(f"^{re.escape(named)}{message}")
    assert os.fspath(preset_copy) in str(error.value)
