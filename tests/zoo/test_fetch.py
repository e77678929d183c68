"""Downloads against a local HTTP server: good, wrong hash, cut short, server down, offline.

Every failure must leave the cache without the file and without temporary files.
"""

import hashlib
import os

import keras
import numpy as np
import pytest

from mmzoo.zoo import ChecksumError, DownloadError, from_preset, register_preset, registry_entry
from mmzoo.zoo.fetch import fetch_file
from tests.zoo.conftest import files_under
from tests.zoo.http_server import TRUNCATED, serve, unused_url

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


def test_a_good_file_lands_in_the_cache_and_then_loads_offline(served, mmzoo_home):
    destination = mmzoo_home / "blobs" / "blob.bin"
    with serve(served) as url:
        assert fetch_file(f"{url}/blob.bin", destination, SHA256) == destination
    assert destination.read_bytes() == CONTENT
    assert files_under(mmzoo_home) == ["blobs/blob.bin"]
    assert fetch_file(f"{unused_url()}/blob.bin", destination, SHA256) == destination  # no network


def test_a_wrong_hash_names_the_url_and_both_hashes_and_keeps_nothing(served, mmzoo_home):
    wrong = "0" * 64
    with serve(served) as url, pytest.raises(ChecksumError) as error:
        fetch_file(f"{url}/blob.bin", mmzoo_home / "blob.bin", wrong)
    assert f"{url}/blob.bin has sha256 {SHA256}, expected {wrong}" in str(error.value)
    assert "not kept in the cache" in str(error.value)
    assert files_under(mmzoo_home) == []


def test_a_download_cut_short_raises_and_keeps_nothing(served, mmzoo_home):
    with serve(served) as url, pytest.raises(DownloadError, match="cut short: received 50000 of 100000"):
        fetch_file(f"{url}{TRUNCATED}blob.bin", mmzoo_home / "blob.bin", SHA256)
    assert files_under(mmzoo_home) == []


def test_a_server_that_is_down_is_named_with_the_offline_hint(mmzoo_home):
    url = f"{unused_url()}/blob.bin"
    with pytest.raises(DownloadError, match=f"could not fetch {url}: .*loads offline.*MMZOO_HOME"):
        fetch_file(url, mmzoo_home / "blob.bin", SHA256)
    assert files_under(mmzoo_home) == []


def test_a_missing_file_on_the_server_gives_its_http_status(served, mmzoo_home):
    with serve(served) as url, pytest.raises(DownloadError, match="answered HTTP 404"):
        fetch_file(f"{url}/nothing.bin", mmzoo_home / "nothing.bin", SHA256)
    assert files_under(mmzoo_home) == []


def test_a_damaged_cached_file_is_removed_and_fetched_again(served, mmzoo_home):
    destination = mmzoo_home / "blob.bin"
    mmzoo_home.mkdir()
    destination.write_bytes(CONTENT[:10])
    with pytest.raises(DownloadError):  # offline: the bad file goes, nothing replaces it
        fetch_file(f"{unused_url()}/blob.bin", destination, SHA256)
    assert files_under(mmzoo_home) == []
    destination.write_bytes(CONTENT[:10])
    with serve(served) as url:
        fetch_file(f"{url}/blob.bin", destination, SHA256)
    assert destination.read_bytes() == CONTENT


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
    assert "presets/tampered/model.weights.h5" not in files_under(mmzoo_home)
    assert not [name for name in files_under(mmzoo_home) if name.endswith(".part")]


def test_a_bare_url_with_corrupt_metadata_is_not_cached(preset_copy, mmzoo_home):
    (preset_copy / "metadata.json").write_text("{not json")
    with serve(preset_copy.parent) as url, pytest.raises(ValueError, match="not valid JSON"):
        from_preset(f"{url}/tiny")
    assert files_under(mmzoo_home) == []
