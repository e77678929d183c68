"""The registry of presets: a name maps to where its files are and their sha256.

The presets shipped with mmzoo are listed in ``presets.json`` next to this module.
An entry is ``{"url": ...}`` (a ``file://`` / ``http(s)://`` folder the files are
fetched from into the cache) or ``{"path": ...}`` (a folder under
``mmzoo/zoo/checkpoints/`` installed with the package), plus ``"files"`` (file
name to sha256, for every file of the preset folder) and ``"metadata"`` (a copy of
its ``metadata.json``: dataset, metrics, license... readable before any download).
:func:`mmzoo.zoo.registry_entry` makes an entry from a saved preset folder.

Example:
    >>> list_presets("*avmnist*")  # doctest: +SKIP
    ['concat_lenet_avmnist', 'gated_lenet_avmnist']
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import json
import pathlib
import re

#: Where preset folders installed with the package live (``{"path": ...}`` entries).
CHECKPOINTS_DIR = pathlib.Path(__file__).parent / "checkpoints"
#: The files every preset folder has.
REQUIRED_FILES = ("config.json", "model.weights.h5", "metadata.json")

_SHA256 = re.compile(r"[0-9a-f]{64}")
_PRESETS: dict[str, dict] = {}


def is_sha256(value) -> bool:
    """Whether ``value`` is a hex sha256 digest as presets record them: 64 lowercase hex digits."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def register_preset(name: str, *, files: dict[str, str], metadata: dict, url: str | None = None,
                    path: str | None = None) -> None:
    """Make ``name`` loadable with :func:`mmzoo.from_preset`, e.g. a preset your team hosts.

    Args:
        name: the preset's name.
        files: every file of the preset folder and its hex sha256.
        metadata: the preset's ``metadata.json`` content.
        url: the ``file://``, ``http://`` or ``https://`` folder holding the files, or
        path: a folder under :data:`CHECKPOINTS_DIR` (presets shipped in the package).

    Example:
        >>> register_preset("birds_v2", url="https://example.org/presets/birds_v2",  # doctest: +SKIP
        ...                 **registry_entry("presets/birds_v2"))
    """
    where = f"preset {name!r}"
    if name in _PRESETS:
        raise ValueError(f"a preset named {name!r} is already registered.")
    if (url is None) == (path is None):
        raise ValueError(f"{where}: give exactly one of url= (where to download the files) "
                         "and path= (a folder under mmzoo/zoo/checkpoints).")
    if url is not None and not url.startswith(("file://", "http://", "https://")):
        raise ValueError(f"{where}: url={url!r} must start with file://, http:// or https://.")
    missing = [f for f in REQUIRED_FILES if f not in files]
    if missing:
        raise ValueError(f"{where}: files= lacks {missing}; every preset has {list(REQUIRED_FILES)}.")
    malformed = {f: h for f, h in files.items() if not is_sha256(h)}
    if malformed:
        raise ValueError(f"{where}: files= has hashes that are not lowercase hex sha256 digests: "
                         f"{malformed}.")
    entry = {"url": url} if url is not None else {"path": path}
    _PRESETS[name] = copy.deepcopy({**entry, "files": files, "metadata": metadata})


def list_presets(pattern: str = "*") -> list[str]:
    """Registered preset names matching a shell-style ``pattern``, sorted."""
    return sorted(fnmatch.filter(_PRESETS, pattern))


def is_registered(name: str) -> bool:
    return name in _PRESETS


def preset_entry(name: str) -> dict:
    """A copy of a registered preset's entry; a clear error for an unknown name."""
    if name not in _PRESETS:
        close = difflib.get_close_matches(name, _PRESETS, n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(
            f"{name!r} is neither a registered preset nor an existing preset folder.{hint} "
            f"The {len(_PRESETS)} registered presets are listed by mmzoo.list_presets() "
            f"(e.g. mmzoo.list_presets('*{name[:4]}*')): {list_presets()[:10]}. "
            "A preset folder path or a file:// or http(s):// URL works too.")
    return copy.deepcopy(_PRESETS[name])


def _register_shipped() -> None:
    with open(pathlib.Path(__file__).parent / "presets.json", encoding="utf-8") as file:
        for name, entry in json.load(file).items():
            register_preset(name, **entry)


_register_shipped()
