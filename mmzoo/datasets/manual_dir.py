"""Where the TFDS builders find the real data: ``$MMZOO_DATA_DIR``, else ``<repo>/../shared/data``.

The builders read local files only (no download): the folder holding ``fsdd/``,
``mnist/`` and ``stamps/`` serves as TFDS's manual dir. Users never pass it:
:class:`ManualDirBuilder` fills ``download_config.manual_dir`` in when it is unset.

Example:
    >>> import os
    >>> os.environ["MMZOO_DATA_DIR"] = "/data/mmzoo"
    >>> str(default_manual_dir())
    '/data/mmzoo'
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from collections.abc import Iterable

import tensorflow_datasets as tfds

ENV_VAR = "MMZOO_DATA_DIR"
_REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def default_manual_dir() -> pathlib.Path:
    """``$MMZOO_DATA_DIR`` when set, else ``../shared/data`` beside the repository root."""
    return pathlib.Path(os.environ.get(ENV_VAR) or _REPO_ROOT.parent / "shared" / "data")


def require_sources(manual_dir: os.PathLike | str, relative_paths: Iterable[str],
                    dataset: str) -> pathlib.Path:
    """Return ``manual_dir`` as a Path once every ``relative_paths`` entry exists in it.

    Raises:
        FileNotFoundError: naming the missing paths and saying to set ``$MMZOO_DATA_DIR``.

    Example:
        >>> root = require_sources(default_manual_dir(), ["mnist", "fsdd/recordings"], "avmnist")
    """
    root = pathlib.Path(manual_dir)
    missing = [str(root / path) for path in relative_paths if not (root / path).exists()]
    if missing:
        raise FileNotFoundError(
            f"The {dataset} dataset is built from local files, and these are missing: "
            f"{', '.join(missing)}. Set ${ENV_VAR} to the folder holding fsdd/, mnist/ and "
            f"stamps/ (the project's ../shared/data), or pass "
            f"tfds.download.DownloadConfig(manual_dir=...)."
        )
    return root


class ManualDirBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A builder reading local files from :func:`default_manual_dir` unless told otherwise.

    Subclasses list their inputs in ``SOURCES`` (paths relative to the manual dir) and
    call ``self.source_dir()`` in ``_split_generators``.
    """

    SOURCES: tuple[str, ...] = ()
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        f"Set ${ENV_VAR} to the folder holding fsdd/, mnist/ and stamps/ "
        "(the project's ../shared/data; see its README.md)."
    )

    def download_and_prepare(self, *, download_config: tfds.download.DownloadConfig | None = None,
                             **kwargs) -> None:
        """As in TFDS, with ``download_config.manual_dir`` defaulting to ``default_manual_dir()``."""
        download_config = download_config or tfds.download.DownloadConfig()
        if download_config.manual_dir is None:
            download_config = dataclasses.replace(download_config, manual_dir=default_manual_dir())
        self._manual_dir = pathlib.Path(download_config.manual_dir)
        super().download_and_prepare(download_config=download_config, **kwargs)

    def source_dir(self) -> pathlib.Path:
        """The manual dir of the running ``download_and_prepare``, checked to hold ``SOURCES``."""
        return require_sources(self._manual_dir, self.SOURCES, self.name)
