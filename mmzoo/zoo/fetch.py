"""Files into the cache, sha256-verified and bounded: ``file://``, ``http://`` and ``https://`` URLs.

:func:`fetch_folder` downloads the files a cache folder lacks into a hidden
staging folder beside it, checks each (complete, no larger than allowed, the
expected sha256) and moves them in only when all are good: on any failure the
cache is exactly as it was, without temporary files. A file already cached with
the right sha256 is used without touching the network.

Every download is bounded in size (the size expected of the file, else
:data:`MAX_DOWNLOAD_BYTES`), in idle time (:data:`IDLE_TIMEOUT_SECONDS` without
a byte) and in total time (:data:`TOTAL_TIMEOUT_SECONDS`). A ``Content-Length``
above the limit fails before the body is read; one that disagrees with the body
sent (shorter or longer) fails too.

Example:
    >>> fetch_folder(mmzoo_home() / "presets" / "x", {  # doctest: +SKIP
    ...     "model.weights.h5": Remote("https://example.org/x/model.weights.h5",
    ...                                sha256="3f2a...", max_bytes=1_234_567)})
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.client
import io
import logging
import os
import pathlib
import re
import shutil
import socket
import threading
import urllib.error
import urllib.request

from mmzoo.utils import staging_folder

#: Seconds a server may take to accept the connection or to send the next bytes.
IDLE_TIMEOUT_SECONDS = 60
#: Seconds one file's download may take, from connecting to its last byte.
TOTAL_TIMEOUT_SECONDS = 3600
#: The most bytes a file may have when nothing declares its size;
#: ``$MMZOO_MAX_DOWNLOAD_BYTES`` overrides it.
MAX_DOWNLOAD_BYTES = 4 << 30
#: Seconds to wait, once the announced body is in, for bytes a lying server sends beyond it.
_LINGER_SECONDS = 0.5
_CHUNK_BYTES = 1 << 20
# One path component, not hidden, no separator, drive colon or control character.
_PLAIN_NAME = re.compile(r"[^./\\:\x00-\x1f\x7f][^/\\:\x00-\x1f\x7f]{0,99}")

logger = logging.getLogger(__name__)


class ChecksumError(ValueError):
    """A file's sha256 is not the one expected."""


class DownloadError(OSError):
    """A URL could not be fetched completely and within bounds (server down, HTTP error,
    cut short, too large, too slow)."""


@dataclasses.dataclass(frozen=True)
class Remote:
    """Where a file comes from and what it must be.

    ``sha256=None`` (only for a file whose hash nobody published) accepts any
    content; ``max_bytes=None`` allows :data:`MAX_DOWNLOAD_BYTES`.
    """

    url: str
    sha256: str | None = None
    max_bytes: int | None = None


def mmzoo_home() -> pathlib.Path:
    """The cache folder: ``$MMZOO_HOME``, by default ``~/.cache/mmzoo``."""
    return pathlib.Path(os.environ.get("MMZOO_HOME", "~/.cache/mmzoo")).expanduser()


def is_plain_file_name(name) -> bool:
    """Whether ``name`` names a file directly inside its folder.

    One path component of at most 100 characters: no ``/``, ``\\``, drive colon
    or control character, not empty and not starting with ``.`` (so neither
    ``.``, ``..`` nor a hidden temporary file).
    """
    return isinstance(name, str) and _PLAIN_NAME.fullmatch(name) is not None


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


def fetch_folder(folder, files: dict[str, Remote], contents: dict[str, bytes] | None = None
                 ) -> pathlib.Path:
    """``folder`` holding every file of ``files``, downloading those absent or with the wrong sha256.

    All or nothing: the downloads go to a staging folder and enter ``folder``
    only when every one is complete and verified; on any failure the cache is
    as it was (a damaged cached file is replaced only by a verified download).

    Args:
        folder: the cache folder; it and its parents are created when needed.
        files: each file name (a plain name, :func:`is_plain_file_name`) and its :class:`Remote`.
        contents: files the caller already downloaded and checked, written along
            with the others when absent.

    Raises:
        DownloadError: a download failed or broke a bound; the message names the URL.
        ChecksumError: a download does not have its sha256.
        ValueError: a name is not a plain file name (nothing is fetched).
    """
    folder, contents = pathlib.Path(folder), contents or {}
    unsafe = [name for name in [*files, *contents] if not is_plain_file_name(name)]
    if unsafe:
        raise ValueError(f"cannot fetch {unsafe} into {folder}: they are not plain file names "
                         "inside that folder.")
    missing = {name: remote for name, remote in files.items() if not _cached(folder / name, remote)}
    new = {name: content for name, content in contents.items() if not (folder / name).is_file()}
    if not missing and not new:
        return folder
    created = [path for path in (folder, *folder.parents) if not path.exists()]
    try:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            staging = staging_folder(folder.parent, prefix=f".{folder.name}.")
        except OSError as error:
            raise DownloadError(f"cannot write to the cache folder {folder} ({error}); set "
                                "$MMZOO_HOME to a writable folder.") from error
        try:
            for name, content in new.items():
                (staging / name).write_bytes(content)
            for name, remote in missing.items():
                _fetch(remote, staging / name)
            for name in [*new, *missing]:
                os.replace(staging / name, folder / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        for path in created:  # deepest first; a folder someone filled meanwhile stays
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
    return folder


def read_url(url: str, max_bytes: int) -> bytes:
    """The content of ``url``, at most ``max_bytes``, within the same bounds as any download.

    For a small file that must be checked before anything enters the cache.
    Raises :class:`DownloadError` naming the URL.
    """
    buffer = io.BytesIO()
    _download(url, buffer, max_bytes, "")
    return buffer.getvalue()


def _cached(path: pathlib.Path, remote: Remote) -> bool:
    if not path.is_file():
        return False
    if remote.sha256 is None or sha256_of(path) == remote.sha256:
        return True
    logger.warning("%s does not have sha256 %s; fetching it again.", path, remote.sha256)
    return False


def _fetch(remote: Remote, destination: pathlib.Path) -> None:
    if remote.max_bytes is not None:
        max_bytes, hint = remote.max_bytes, ""
    else:
        max_bytes, hint = _download_cap(), (
            " (the cap for a file whose size nothing declares: mmzoo.zoo.fetch.MAX_DOWNLOAD_BYTES, "
            "or $MMZOO_MAX_DOWNLOAD_BYTES to allow more)")
    with open(destination, "wb") as file:
        _download(remote.url, file, max_bytes, hint)
    if remote.sha256 is not None:
        verify_file(destination, remote.sha256, f"the download of {remote.url}",
                    "It was not kept in the cache: retry, and if it happens again check the URL "
                    "and the expected hash.")


def _download_cap() -> int:
    value = os.environ.get("MMZOO_MAX_DOWNLOAD_BYTES")
    if value is None:
        return MAX_DOWNLOAD_BYTES
    if not value.isdigit():
        raise ValueError(f"$MMZOO_MAX_DOWNLOAD_BYTES={value!r} is not a number of bytes; set it "
                         "to a whole number such as 10000000000, or unset it.")
    return int(value)


def _download(url: str, file, max_bytes: int, hint: str) -> None:
    """Copy the body of ``url`` into ``file``, within every bound; :class:`DownloadError` otherwise."""
    logger.info("Downloading %s", url)
    connections = _Connections(TOTAL_TIMEOUT_SECONDS)
    try:
        with connections, _opener(connections).open(url, timeout=IDLE_TIMEOUT_SECONDS) as response:
            received, length = _copy(response, file, url, max_bytes, hint, connections)
    except (OSError, http.client.HTTPException) as error:  # DownloadError and URLError included
        if connections.expired:
            raise _too_slow(url) from error
        raise _failure(url, error) from error
    if connections.expired:  # the shut sockets ended the body early
        raise _too_slow(url)
    if length is not None and received < length:
        raise _cut_short(url, f"received {received} of {length} bytes")


def _copy(response, file, url, max_bytes, hint, connections) -> tuple[int, int | None]:
    """The bytes received and the announced length (None: none announced)."""
    length = _content_length(response, url, max_bytes, hint)
    # With a Content-Length, read the raw stream: http.client would stop at the
    # announced length and hide a longer body.
    stream, received = (response if length is None else response.fp), 0
    try:
        while chunk := stream.read1(_CHUNK_BYTES):
            received += len(chunk)
            if length is not None and received > length:
                raise DownloadError(
                    f"{url} sent more bytes than the {length} its Content-Length announced: the "
                    "server is broken or something between altered the response. Nothing was "
                    "kept in the cache; retry, and if it happens again tell whoever hosts the file.")
            if received > max_bytes:
                raise _too_large(url, f"sent more than {max_bytes} bytes", max_bytes, hint)
            file.write(chunk)
            if received == length:
                connections.linger(_LINGER_SECONDS)
    except TimeoutError:
        if received != length:
            raise  # else the server keeps the connection open after the body: all is in
    return received, length


def _content_length(response, url, max_bytes, hint) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or getattr(response, "chunked", False):
        return None
    if not value.strip().isdigit():
        raise DownloadError(f"{url} announced an invalid Content-Length {value!r}: the server is "
                            "broken. Nothing was kept in the cache; tell whoever hosts the file.")
    length = int(value)
    if length > max_bytes:
        raise _too_large(url, f"announces {length} bytes", max_bytes, hint)
    return length


def _too_large(url, what, max_bytes, hint) -> DownloadError:
    return DownloadError(f"{url} {what}, more than the {max_bytes} expected of it{hint}: the "
                         "download was stopped and nothing was kept in the cache. Check the URL.")


def _too_slow(url) -> DownloadError:
    return DownloadError(
        f"the download of {url} took longer than {TOTAL_TIMEOUT_SECONDS} s "
        "(mmzoo.zoo.fetch.TOTAL_TIMEOUT_SECONDS) and was stopped; nothing was kept in the cache. "
        "Retry on a faster connection, or raise that limit.")


def _failure(url, error) -> DownloadError:
    """The :class:`DownloadError` for an exception raised while fetching ``url``."""
    reason = getattr(error, "reason", error)
    if isinstance(error, DownloadError):
        return error
    if isinstance(error, urllib.error.HTTPError):
        return DownloadError(f"{url} answered HTTP {error.code} {error.reason}; check the URL.")
    if isinstance(error, http.client.HTTPException):  # e.g. IncompleteRead of a chunked response
        return _cut_short(url, f"the connection broke ({error!r})")
    if isinstance(reason, TimeoutError):
        return DownloadError(
            f"{url} sent nothing for {IDLE_TIMEOUT_SECONDS} s (mmzoo.zoo.fetch."
            "IDLE_TIMEOUT_SECONDS) and the download was stopped; nothing was kept in the cache. "
            "Retry; a preset already in the cache loads offline.")
    return DownloadError(
        f"could not fetch {url}: {reason}. Check the network and the URL; a preset already in the "
        f"cache loads offline (the cache is $MMZOO_HOME, now {mmzoo_home()}).")


def _cut_short(url: str, detail: str) -> DownloadError:
    return DownloadError(f"the download of {url} was cut short: {detail}. Nothing was kept in "
                         "the cache; retry.")


class _Connections:
    """The sockets of one download; when its total time is up they are shut, ending any wait."""

    def __init__(self, seconds: float):
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc_info):
        self._timer.cancel()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def linger(self, seconds: float) -> None:
        """Wait at most ``seconds`` for the next bytes (or the end) on every socket."""
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.settimeout(seconds)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    """Shut ``sock`` down (a blocked read returns); the plain socket's method, also for TLS."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedConnections:
    """Mixin for urllib's HTTP(S) handlers: each connection's socket joins ``self.connections``."""

    connections: _Connections

    def do_open(self, http_class, request, **kwargs):
        connections = self.connections

        class Watched(http_class):
            def connect(self):
                super().connect()
                connections.add(self.sock)

        return super().do_open(Watched, request, **kwargs)


class _HTTPHandler(_WatchedConnections, urllib.request.HTTPHandler):
    pass


class _HTTPSHandler(_WatchedConnections, urllib.request.HTTPSHandler):
    pass


def _opener(connections: _Connections) -> urllib.request.OpenerDirector:
    handlers = (_HTTPHandler(), _HTTPSHandler())
    for handler in handlers:
        handler.connections = connections
    return urllib.request.build_opener(*handlers)
