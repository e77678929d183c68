"""The torch-free legacy state_dict reader against what torch itself reads (fixtures written
by ``benchmarks/references/efficientnet_lite0.py state`` in the torch environment)."""

import hashlib
import json
import pathlib
import pickle
import zipfile

import numpy as np
import pytest

from mmzoo.backbones.efficientnet_lite import BACKBONE
from mmzoo.backbones.torch_state import load_legacy_state_dict

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def test_every_tensor_of_the_wheel_is_bit_identical_to_torch():
    path = BACKBONE.weights_file.location()
    if path is None:
        pytest.skip(f"the weights package is not installed: {BACKBONE.weights_file.install_hint()}")
    expected = json.loads((FIXTURES / "efficientnet_lite0_state.json").read_text())
    state = load_legacy_state_dict(path)
    assert list(state) == list(expected)
    for name, array in state.items():
        assert [list(array.shape), str(array.dtype)] == [expected[name]["shape"],
                                                         expected[name]["dtype"]], name
        assert hashlib.sha256(array.tobytes()).hexdigest() == expected[name]["sha256"], name


def test_dtypes_views_and_storage_offsets_read_as_torch_does():
    expected = json.loads((FIXTURES / "torch_legacy_sample.json").read_text())
    state = load_legacy_state_dict(FIXTURES / "torch_legacy_sample.pth")
    assert list(state) == list(expected)
    for name, array in state.items():
        assert str(array.dtype) == expected[name]["dtype"], name
        np.testing.assert_array_equal(array, np.array(expected[name]["values"]), err_msg=name)


def test_other_files_are_refused_with_the_reason(tmp_path):
    zipped = tmp_path / "new.pth"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("archive/data.pkl", b"")
    with pytest.raises(ValueError, match="zip-format"):
        load_legacy_state_dict(zipped)
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="magic number"):
        load_legacy_state_dict(other)


def test_a_pickle_naming_other_classes_is_refused_not_run(tmp_path):
    import collections

    from mmzoo.backbones.torch_state import MAGIC_NUMBER, PROTOCOL_VERSION

    path = tmp_path / "odd.pth"
    path.write_bytes(b"".join(pickle.dumps(part, protocol=2) for part in (
        MAGIC_NUMBER, PROTOCOL_VERSION, {"little_endian": True}, collections.Counter("ab"))))
    with pytest.raises(pickle.UnpicklingError, match="collections.Counter"):
        load_legacy_state_dict(path)
