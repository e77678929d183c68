"""Corpus, family "fetch": hostile preset metadata and servers on 127.0.0.1.

Confinement: a file name a preset lists that is not a plain name inside its
folder (``../x``, ``/abs``, ``a/../../x``, a drive, a symbolic link leading out
of a local folder...) fails before any download or write, naming the metadata
and the name. Bounds: an endless body, a huge or lying Content-Length, a
trickling or stalled server each fail with a DownloadError naming the URL, and
the cache stays byte-for-byte as it was, with no ``.part`` file.
"""

import hashlib
import json
import os
import shutil

import pytest

from mmzoo.zoo import (
    DownloadError,
    fetch,
    from_preset,
    load_preprocessor,
    register_preset,
    registry_entry,
)
from mmzoo.zoo import preset as preset_module
from tests.zoo import conftest as zoo
from tests.zoo.http_server import HUGE_LENGTH, serve

# The zoo's fixtures: a cache in tmp_path, the registry restored, the tiny preset and a copy.
mmzoo_home, _isolated_registry, saved, preset_copy = (
    zoo.mmzoo_home, zoo._isolated_registry, zoo.saved, zoo.preset_copy)

WEIGHTS, METADATA = "model.weights.h5", "metadata.json"
CAP = 50_000  # $MMZOO_MAX_DOWNLOAD_BYTES in the cases where the metadata declares no sizes


def snapshot(folder):
    """Every file and folder under ``folder``, hidden ones included: a file's sha256, a folder's "/".

    None when ``folder`` does not exist.
    """
    if not folder.exists():
        return None
    return {os.fspath(path.relative_to(folder)):
            "/" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*"))}


def edit_metadata(folder, edit):
    path = folder / METADATA
    metadata = json.loads(path.read_text())
    edit(metadata)
    path.write_text(json.dumps(metadata))


@pytest.fixture
def site(preset_copy):
    """The tiny preset served twice, under ``/tiny`` and ``/good``: (url, faults, request log)."""
    shutil.copytree(preset_copy, preset_copy.parent / "good")
    faults, log = {}, []
    with serve(preset_copy.parent, faults, log) as url:
        yield url, faults, log


def preset_name(source, url, folder, name="remote_tiny"):
    """What to load: the preset's URL, or a name registered for it."""
    if source == "url":
        return f"{url}/{folder.name}"
    register_preset(name, **registry_entry(folder, url=f"{url}/{folder.name}"))
    return name


# ---------------------------------------------------------------------------- confinement

ESCAPING_NAMES = {
    "dot-dot": "../escaped.bin",
    "dot-dot-twice": "../../escaped.bin",
    "dot-dot-inside": "a/../../escaped.bin",
    "subfolder": "sub/escaped.bin",
    "backslash": "..\\escaped.bin",
    "drive": "C:\\escaped.bin",
    "drive-relative": "C:escaped.bin",
    "empty": "",
    "dot": ".",
    "dot-dot-alone": "..",
    "hidden": ".escaped.bin",
    "nul-byte": "escaped\x00.bin",
    "newline": "escaped\n.bin",
    "too-long": "e" * 101,
}
ESCAPING = [pytest.param(name, id=key) for key, name in ESCAPING_NAMES.items()]
ESCAPING.append(pytest.param("{outside}/escaped.bin", id="absolute"))
ESCAPED = b"bytes that must not land outside the preset folder"


@pytest.mark.parametrize("source", ["url", "registered-url", "folder", "registered-path"])
@pytest.mark.parametrize("name", ESCAPING)
def test_a_file_name_leading_out_of_the_preset_folder_fails_before_anything_is_fetched(
        site, preset_copy, tmp_path, mmzoo_home, monkeypatch, source, name):
    url, _, log = site
    name = name.format(outside=tmp_path)
    for where in (tmp_path, tmp_path / "copy"):  # what ../ leads to exists, with the listed hash
        (where / "escaped.bin").write_bytes(ESCAPED)
    sha256 = hashlib.sha256(ESCAPED).hexdigest()
    load_preprocessor(f"{url}/good")  # the cache holds another preset
    if source in ("url", "folder"):
        edit_metadata(preset_copy, lambda metadata: metadata["files"].update({name: sha256}))
        preset = f"{url}/tiny" if source == "url" else preset_copy
        where = f"{url}/tiny/{METADATA}" if source == "url" else os.fspath(preset_copy / METADATA)
    else:
        location = {"url": f"{url}/tiny"} if source == "registered-url" else {"path": "tiny"}
        monkeypatch.setattr(preset_module, "CHECKPOINTS_DIR", preset_copy.parent)
        entry = registry_entry(preset_copy, **location)
        entry["files"] = {**entry["files"], name: sha256}
        register_preset("hostile", **entry)
        preset, where = "hostile", "the registry entry of preset 'hostile'"
    before, log[:] = snapshot(tmp_path), []
    with pytest.raises(ValueError) as error:
        from_preset(preset)
    assert type(error.value) is ValueError
    message = str(error.value)
    assert message.startswith(f"{where} lists files named {repr(name)[:200]}")
    assert "nothing was downloaded or written" in message
    assert log == ([f"/tiny/{METADATA}"] if source == "url" else [])
    assert snapshot(tmp_path) == before  # the cache, the preset and everything around them


@pytest.mark.parametrize("linked", [WEIGHTS, "preprocessor.json"])
@pytest.mark.parametrize("source", ["folder", "registered-path"])
def test_a_symbolic_link_out_of_a_local_preset_folder_is_refused(preset_copy, tmp_path,
                                                                 monkeypatch, source, linked):
    """The link leads to the very file saved, so only where it leads can make it fail."""
    monkeypatch.setattr(preset_module, "CHECKPOINTS_DIR", preset_copy.parent)
    register_preset("linked", **registry_entry(preset_copy, path="tiny"))
    outside = tmp_path / "outside" / linked
    outside.parent.mkdir()
    shutil.move(preset_copy / linked, outside)
    (preset_copy / linked).symlink_to(outside)
    if source == "folder":
        preset, where = preset_copy, os.fspath(preset_copy / METADATA)
    else:
        preset, where = "linked", "the registry entry of preset 'linked'"
    with pytest.raises(ValueError) as error:
        from_preset(preset)
    assert type(error.value) is ValueError
    assert str(error.value).startswith(f"{where} lists ['{linked}'], symbolic links in "
                                       f"{preset_copy} to files outside it")


def test_a_symbolic_link_inside_the_preset_folder_loads(saved, preset_copy):
    """The control case: a link is refused for where it leads, not for being a link."""
    model, _, inputs = saved
    shutil.move(preset_copy / WEIGHTS, preset_copy / "weights-copy.h5")
    (preset_copy / WEIGHTS).symlink_to("weights-copy.h5")
    assert from_preset(preset_copy).count_params() == model.count_params()


# --------------------------------------------------------------------------------- bounds

IDLE, TOTAL = 1, 3
BOUNDS = [  # (id, file, fault, message with {url}, {size}, {length}), all before any timeout
    ("endless-declared-size", WEIGHTS, "endless",
     r"{url} sent more than {size} bytes, more than the {size} expected of it: the download was "
     r"stopped"),
    ("endless-undeclared-size", WEIGHTS, "endless",
     rf"{{url}} sent more than {CAP} bytes, more than the {CAP} expected of it \(the cap for a "
     r"file whose size nothing declares: .*MMZOO_MAX_DOWNLOAD_BYTES"),
    ("endless-metadata", METADATA, "endless",
     rf"{{url}} sent more than {preset_module.MAX_METADATA_BYTES} bytes"),
    ("huge-length", WEIGHTS, "huge", rf"{{url}} announces {HUGE_LENGTH} bytes, more than the "
                                     r"{size} expected of it"),
    ("huge-length-metadata", METADATA, "huge",
     rf"{{url}} announces {HUGE_LENGTH} bytes, more than the {preset_module.MAX_METADATA_BYTES}"),
    ("length-lie-long", WEIGHTS, "long",
     r"{url} sent more bytes than the {half} its Content-Length announced"),
    ("length-lie-long-metadata", METADATA, "long",
     r"{url} sent more bytes than the {half} its Content-Length announced"),
    ("length-lie-short", WEIGHTS, "truncated",
     r"the download of {url} was cut short: received {half} of {size} bytes"),
    ("length-lie-short-metadata", METADATA, "truncated",
     r"the download of {url} was cut short: received {half} of {size} bytes"),
    ("length-invalid", WEIGHTS, "invalid-length", r"{url} announced an invalid Content-Length"),
    ("one-byte-per-second", WEIGHTS, "trickle",
     rf"the download of {{url}} took longer than {TOTAL} s .*TOTAL_TIMEOUT_SECONDS"),
    ("one-byte-per-second-metadata", METADATA, "trickle",
     rf"the download of {{url}} took longer than {TOTAL} s"),
    ("headers-one-byte-per-second", WEIGHTS, "slow-headers",
     rf"the download of {{url}} took longer than {TOTAL} s"),
    ("stalled", WEIGHTS, "stall", rf"{{url}} sent nothing for {IDLE} s .*IDLE_TIMEOUT_SECONDS"),
]


@pytest.mark.parametrize("source", ["url", "registered"])
@pytest.mark.parametrize("case, file_name, fault, message", [
    pytest.param(*case, id=case[0]) for case in BOUNDS])
def test_a_hostile_server_fails_within_its_bound_and_leaves_the_cache_as_it_was(
        site, preset_copy, mmzoo_home, monkeypatch, source, case, file_name, fault, message):
    url, faults, _ = site
    if fault == "stall":
        monkeypatch.setattr(fetch, "IDLE_TIMEOUT_SECONDS", IDLE)
    else:  # the idle timeout stays above the trickle's 1 s: only the total time can stop it
        monkeypatch.setattr(fetch, "IDLE_TIMEOUT_SECONDS", 5)
        monkeypatch.setattr(fetch, "TOTAL_TIMEOUT_SECONDS", TOTAL)
    if case == "endless-undeclared-size":  # a preset saved before sizes were recorded
        edit_metadata(preset_copy, lambda metadata: metadata.pop("sizes"))
    preset = preset_name(source, url, preset_copy)
    load_preprocessor(f"{url}/good")  # the cache holds another preset...
    if file_name != METADATA or source == "registered":
        load_preprocessor(preset)  # ... and this one, its weights then damaged
        damaged = next(mmzoo_home.glob(f"presets/*tiny*/{WEIGHTS}"))
        damaged.write_bytes(damaged.read_bytes()[:-100])
        if file_name == METADATA:
            (damaged.parent / METADATA).unlink()
    if case == "endless-undeclared-size":
        monkeypatch.setenv("MMZOO_MAX_DOWNLOAD_BYTES", str(CAP))
    before = snapshot(mmzoo_home)
    size = (preset_copy / file_name).stat().st_size
    faults[f"/tiny/{file_name}"] = fault
    with pytest.raises(DownloadError) as error:
        from_preset(preset)
    expected = message.format(url=f"{url}/tiny/{file_name}", size=size, half=size // 2)
    assert type(error.value) is DownloadError
    assert error.match(expected)
    assert "nothing was kept in the cache" in str(error.value).lower()
    assert snapshot(mmzoo_home) == before
    assert not [path for path in mmzoo_home.rglob("*.part")]
