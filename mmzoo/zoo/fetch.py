"""Files into the cache, sha256-verified: ``file://``, ``http://`` and ``https://`` URLs.

A download goes to a hidden temporary file next to its destination, is checked
(complete, and the expected sha256), and only then renamed into place with
``os.replace``: the cache never holds a partial or unverified file, and a file
already cached is used without touching the network.

Example:
    >>> path = fetch_file("https://example.org/model.weights.h5",  # doctest: +SKIP
    ...                   mmzoo_home() / "presets" / "x" / "model.weights.h5", sha256="3f2a...")
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import pathlib
import tempfile
import urllib.error
import urllib.request

#: Seconds to wait for a server to connect or to send the next bytes.
TIMEOUT_SECONDS = 60
_CHUNK_BYTES = 1 << 20

logger = logging.getLogger(__name__)


class ChecksumError(ValueError):
    """A file's sha256 is not the one expected."""


class DownloadError(OSError):
    """A URL could not be fetched completely (server down, HTTP error, cut short)."""


def mmzoo_home() -> pathlib.Path:
    """The cache folder: ``$MMZOO_HOME``, by default ``~/.cache/mmzoo``."""
    return pathlib.Path(os.environ.get("MMZOO_HOME", "~/.cache/mmzoo")).expanduser()


def sha256_of(path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path, sha256: str, what: str, remedy: str) -> None:
    """Raise :class:`ChecksumError` naming ``what``, both hashes and ``remedy`` on a mismatch."""
    actual = sha256_of(path)
    if actual != sha256:
        raise ChecksumError(f"{what} has sha256 {actual}, expected {sha256}. {remedy}")


def fetch_file(url: str, destination, sha256: str | None) -> pathlib.Path:
    """``destination``, downloaded from ``url`` unless already there with the right sha256.

    ``sha256=None`` (only for a file whose hash nobody published) accepts any
    complete download. A cached file with the wrong hash is deleted and fetched
    again. Raises :class:`DownloadError` or :class:`ChecksumError`; either way
    nothing is left at ``destination`` or in a temporary file.
    """
    destination = pathlib.Path(destination)
    if destination.is_file():
        if sha256 is None or sha256_of(destination) == sha256:
            return destination
        logger.warning("%s does not have sha256 %s; fetching it again.", destination, sha256)
        destination.unlink()
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = tempfile.NamedTemporaryFile(dir=destination.parent, prefix=f".{destination.name}.",
                                              suffix=".part", delete=False)
    except OSError as error:
        raise DownloadError(f"cannot write to the cache folder {destination.parent} ({error}); "
                            "set $MMZOO_HOME to a writable folder.") from error
    try:
        with partial:
            _download(url, partial)
        if sha256 is not None:
            verify_file(partial.name, sha256, f"the download of {url}",
                        "It was not kept in the cache: retry, and if it happens again check "
                        "the URL and the expected hash.")
        os.replace(partial.name, destination)
    finally:
        if os.path.exists(partial.name):
            os.unlink(partial.name)
    return destination


def _download(url: str, file) -> None:
    logger.info("Downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            expected = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(_CHUNK_BYTES):
                file.write(chunk)
                received += len(chunk)
    except urllib.error.HTTPError as error:
        raise DownloadError(f"{url} answered HTTP {error.code} {error.reason}; check the URL."
                            ) from error
    except http.client.HTTPException as error:  # e.g. IncompleteRead of a chunked response
        raise _cut_short(url, f"the connection broke ({error!r})") from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(
            f"could not fetch {url}: {reason}. Check the network and the URL; a preset "
            "already in the cache loads offline (the cache is $MMZOO_HOME, now "
            f"{mmzoo_home()})."
        ) from error
    if expected is not None and received != int(expected):
        raise _cut_short(url, f"received {received} of {expected} bytes")


def _cut_short(url: str, detail: str) -> DownloadError:
    return DownloadError(f"the download of {url} was cut short: {detail}. Nothing was kept in "
                         "the cache; retry.")
