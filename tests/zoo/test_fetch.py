"""Downloads against a local HTTP server: good, wrong hash, cut short, server down, offline.

Every failure must leave the cache as it was, without temporary files (the corpus
of hostile servers and metadata is in tests/faults/test_fetch_faults.py).
"""

import hashlib
import os

import keras
import numpy as np
import pytest

from mmzoo.zoo import ChecksumError, DownloadError, from_preset, register_preset, registry_entry
from mmzoo.zoo.fetch import Remote, fetch_folder
from tests.zoo.conftest import files_under
from tests.zoo.http_server import serve, unused_url

CONTENT = os.urandom(100_000)
SHA256 = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "blob.bin").write_bytes(CONTENT)
    return folder


def predict(model, inputs):
    return keras.ops.convert_to_numpy(model(inputs, training=False))


def fetch(url, folder, sha256=SHA256, **kwargs):
    """``folder / "blob.bin"``, fetched from ``url``."""
    fetch_folder(folder, {"blob.bin": Remote(url, sha256, **kwargs)})
    return folder / "blob.bin"


def test_a_good_file_lands_in_the_cache_and_then_loads_offline(served, mmzoo_home):
    with serve(served) as url:
        destination = fetch(f"{url}/blob.bin", mmzoo_home / "blobs", max_bytes=len(CONTENT))
    assert destination.read_bytes() == CONTENT
    assert files_under(mmzoo_home) == ["blobs/blob.bin"]
    assert fetch(f"{unused_url()}/blob.bin", mmzoo_home / "blobs") == destination  # no network


def test_several_files_enter_the_cache_together_or_not_at_all(served, mmzoo_home):
    (served / "other.bin").write_bytes(b"other")
    with serve(served) as url:
        files = {"other.bin": Remote(f"{url}/other.bin", hashlib.sha256(b"other").hexdigest()),
                 "blob.bin": Remote(f"{url}/blob.bin", "0" * 64)}
        with pytest.raises(ChecksumError):
            fetch_folder(mmzoo_home / "presets" / "x", files)
        assert not mmzoo_home.exists()  # the good file left with the folders made for it
        files["blob.bin"] = Remote(f"{url}/blob.bin", SHA256)
        fetch_folder(mmzoo_home / "presets" / "x", files)
    assert files_under(mmzoo_home) == ["presets/x/blob.bin", "presets/x/other.bin"]


def test_a_wrong_hash_names_the_url_and_both_hashes_and_keeps_nothing(served, mmzoo_home):
    wrong = "0" * 64
    with serve(served) as url, pytest.raises(ChecksumError) as error:
        fetch(f"{url}/blob.bin", mmzoo_home, wrong)
    assert f"{url}/blob.bin has sha256 {SHA256}, expected {wrong}" in str(error.value)
    assert "not kept in the cache" in str(error.value)
    assert not mmzoo_home.exists()


def test_a_download_cut_short_raises_and_keeps_nothing(served, mmzoo_home):
    with (serve(served, faults={"/blob.bin": "truncated"}) as url,
          pytest.raises(DownloadError, match="cut short: received 50000 of 100000")):
        fetch(f"{url}/blob.bin", mmzoo_home)
    assert not mmzoo_home.exists()


def test_a_server_that_is_down_is_named_with_the_offline_hint(mmzoo_home):
    url = f"{unused_url()}/blob.bin"
    with pytest.raises(DownloadError, match=f"could not fetch {url}: .*loads offline.*MMZOO_HOME"):
        fetch(url, mmzoo_home)
    assert not mmzoo_home.exists()


def test_a_missing_file_on_the_server_gives_its_http_status(served, mmzoo_home):
    with serve(served) as url, pytest.raises(DownloadError, match="answered HTTP 404"):
        fetch_folder(mmzoo_home, {"nothing.bin": Remote(f"{url}/nothing.bin", SHA256)})
    assert not mmzoo_home.exists()


def test_a_damaged_cached_file_is_replaced_only_by_a_verified_download(served, mmzoo_home):
    destination = mmzoo_home / "blob.bin"
    mmzoo_home.mkdir()
    destination.write_bytes(CONTENT[:10])
    with pytest.raises(DownloadError):  # offline: the cache stays as it was
        fetch(f"{unused_url()}/blob.bin", mmzoo_home)
    assert files_under(mmzoo_home) == ["blob.bin"]
    assert destination.read_bytes() == CONTENT[:10]
    with serve(served) as url:
        fetch(f"{url}/blob.bin", mmzoo_home)
    assert destination.read_bytes() == CONTENT
    assert files_under(mmzoo_home) == ["blob.bin"]


@pytest.mark.parametrize("how", ["registered name", "bare url"])
def test_a_preset_over_http_loads_identically_then_offline(saved, how, mmzoo_home):
    model, folder, inputs = saved
    with serve(folder.parent) as url:
        preset = f"{url}/{folder.name}"
        if how == "registered name":
            register_preset("remote_tiny", **registry_entry(folder, url=preset))
            preset = "remote_tiny"
        np.testing.assert_array_equal(predict(from_preset(preset), inputs), predict(model, inputs))
    cached = files_under(mmzoo_home)
    assert [name.rsplit("/", 1)[-1] for name in cached] == files_under(folder)
    for name in cached:
        file_name = name.rsplit("/", 1)[-1]
        assert (mmzoo_home / name).read_bytes() == (folder / file_name).read_bytes()
    # The server is stopped: loading again must not need it.
    np.testing.assert_array_equal(predict(from_preset(preset), inputs), predict(model, inputs))


def test_a_file_url_is_fetched_into_the_cache(saved, mmzoo_home):
    model, folder, inputs = saved
    np.testing.assert_array_equal(predict(from_preset(folder.as_uri()), inputs),
                                  predict(model, inputs))
    assert [name.rsplit("/", 1)[-1] for name in files_under(mmzoo_home)] == files_under(folder)


def test_a_registered_preset_with_a_wrong_hash_keeps_nothing_in_the_cache(saved, mmzoo_home):
    _, folder, _ = saved
    with serve(folder.parent) as url:
        entry = registry_entry(folder, url=f"{url}/{folder.name}")
        entry["files"]["model.weights.h5"] = "f" * 64
        register_preset("tampered", **entry)
        with pytest.raises(ChecksumError, match=f"{url}/tiny/model.weights.h5 has sha256"):
            from_preset("tampered")
    assert not mmzoo_home.exists()  # the files downloaded before the bad one did not stay either


def test_a_bare_url_with_corrupt_metadata_is_not_cached(preset_copy, mmzoo_home):
    (preset_copy / "metadata.json").write_text("{not json")
    with serve(preset_copy.parent) as url, pytest.raises(ValueError, match="not valid JSON"):
        from_preset(f"{url}/tiny")
    assert not mmzoo_home.exists()
