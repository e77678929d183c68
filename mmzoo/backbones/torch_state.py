"""Read a PyTorch ``state_dict`` saved in torch's legacy (pre-zip) format, without torch.

The legacy ``torch.save`` file is five things one after another: four pickles (a magic
number, the protocol version 1001, a dict of system facts, then the object itself, whose
tensors point at storages by a key through pickle's persistent ids), a fifth pickle listing
the storage keys in the order their bytes follow, and then, per storage, its element count
(int64, little-endian) followed by its raw bytes. This module unpickles the object with the
torch classes replaced by small stand-ins and lays each tensor over its storage with numpy.

Example:
    >>> state = load_legacy_state_dict("efficientnet-lite0-57934424.pth")  # doctest: +SKIP
    >>> state["_conv_stem.weight"].shape  # doctest: +SKIP
    (32, 3, 3, 3)
"""

from __future__ import annotations

import collections
import pickle
import struct

import numpy as np

#: The first pickle of every legacy torch file.
MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

#: torch's typed storage classes and the numpy dtype of their elements.
STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name: str):
        self.name = name
        self.dtype = np.dtype(STORAGE_DTYPES[name]).newbyteorder("<")


class _TensorRef:
    """A tensor not yet read: its storage key, offset (elements), shape and strides."""

    def __init__(self, storage, offset, shape, strides):
        self.key, self.offset = storage
        self.offset += offset
        self.shape, self.strides = tuple(shape), tuple(strides)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    return _TensorRef(storage, storage_offset, size, stride)


class _Unpickler(pickle.Unpickler):
    """Unpickles torch objects into stand-ins; remembers each storage's type and size."""

    def __init__(self, file):
        super().__init__(file)
        self.storages: dict[str, tuple[np.dtype, int]] = {}

    def find_class(self, module, name):
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"the torch file holds a {module}.{name}, which a "
                                     "tensor state_dict does not; it is not one this reader reads")

    def persistent_load(self, saved_id):
        kind, storage_type, key, _location, numel, view_metadata = saved_id
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id kind {kind!r}")
        self.storages[key] = (storage_type.dtype, numel)
        if view_metadata is not None:  # a view into the storage: (view key, offset, size)
            _view_key, offset, _size = view_metadata
            return key, offset
        return key, 0


def load_legacy_state_dict(path) -> dict[str, np.ndarray]:
    """The tensors of a legacy-format ``torch.save`` file, name to a numpy array (copies).

    Raises:
        ValueError: the file is not a legacy torch file (e.g. the zip format of torch >= 1.6).
    """
    with open(path, "rb") as file:
        if file.read(2) == b"PK":
            raise ValueError(f"{path} is a zip-format torch file, not the legacy format read here")
        file.seek(0)
        if pickle.load(file) != MAGIC_NUMBER:
            raise ValueError(f"{path} is not a torch file: its magic number differs")
        if pickle.load(file) != PROTOCOL_VERSION:
            raise ValueError(f"{path} has an unknown torch protocol version")
        system = pickle.load(file)
        if not system.get("little_endian", True):
            raise ValueError(f"{path} was saved on a big-endian machine")
        unpickler = _Unpickler(file)
        state = unpickler.load()
        keys = pickle.load(file)
        storages = {}
        for key in keys:
            dtype, numel = unpickler.storages[key]
            (count,) = struct.unpack("<q", file.read(8))
            if count != numel:
                raise ValueError(f"{path}: storage {key} has {count} elements, not {numel}")
            data = file.read(count * dtype.itemsize)
            if len(data) != count * dtype.itemsize:
                raise ValueError(f"{path} is truncated in storage {key}")
            storages[key] = np.frombuffer(data, dtype)
    return {name: _materialize(ref, storages) for name, ref in state.items()}


def _materialize(ref: _TensorRef, storages) -> np.ndarray:
    storage = storages[ref.key]
    itemsize = storage.dtype.itemsize
    array = np.lib.stride_tricks.as_strided(
        storage[ref.offset:], shape=ref.shape, strides=[s * itemsize for s in ref.strides])
    return np.array(array, dtype=storage.dtype.newbyteorder("="))
