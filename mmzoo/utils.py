"""Small helpers with no mmzoo dependencies."""

from __future__ import annotations

import errno
import inspect
import os
import pathlib
import shutil
import stat
import tempfile
from collections.abc import Callable
from typing import Any


def utf8_bytes(text: str) -> bytes:
    """``text`` as UTF-8, where a Python string becomes bytes for a tensor or a request:
    surrogate pairs are joined (as UTF-16 reads them), a lone surrogate becomes U+FFFD
    (which the WordPiece normalizer drops). Strict UTF-8 would raise on those.

    Example:
        >>> utf8_bytes("a\\ud800b \\ud83d\\ude00")
        b'a\\xef\\xbf\\xbdb \\xf0\\x9f\\x98\\x80'
    """
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


def check_options(target, options: dict, what: str) -> None:
    """Raise a ValueError naming ``what`` when ``options`` holds arguments ``target`` lacks.

    ``target`` is a function or a class; a class's ``__init__`` chain counts
    (``**kwargs`` forwarded to ``keras.layers.Layer`` accepts ``name``, ``dtype``...).
    """
    functions = [c.__init__ for c in inspect.getmro(target)] if inspect.isclass(target) else [target]
    accepted = set()
    for function in functions:
        parameters = inspect.signature(function).parameters
        accepted |= {n for n, p in parameters.items() if p.kind is not p.VAR_KEYWORD}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            break
    else:
        return
    unknown = sorted(set(options) - accepted - {"self"})
    if unknown:
        allowed = sorted(accepted - {"self", "spec", "args", "kwargs"})
        raise ValueError(f"{what} does not take {unknown}; the arguments it takes are {allowed}.")


def current_umask() -> int:
    """The process's file-creation mask (reading it means setting it; it is restored at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def staging_folder(parent, prefix: str) -> pathlib.Path:
    """A new empty hidden-by-prefix folder in ``parent`` to write into before :func:`publish_folder`.

    Unlike ``tempfile.mkdtemp``'s (mode 0700), it gets the permissions of any new
    folder, so what is published is readable as usual (e.g. by a server's user).
    """
    staging = pathlib.Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    staging.chmod(0o777 & ~current_umask())
    return staging


def publish_folder(staging: pathlib.Path, target: pathlib.Path, *, replace: bool) -> None:
    """Rename the complete ``staging`` folder to ``target`` in one step.

    Readers never see a half-written ``target``. With ``replace``, an existing
    ``target`` is swapped out first and removed afterwards; a ``target`` that
    appears meanwhile (another writer) raises FileExistsError, never a mix.

    Example:
        >>> staging = staging_folder("exports", ".tmp-")  # doctest: +SKIP
        >>> publish_folder(staging, pathlib.Path("exports/1"), replace=False)  # doctest: +SKIP
    """
    retired = target.with_name(f".old-{staging.name}")
    if replace and target.exists():
        os.replace(target, retired)
    try:
        os.rename(staging, target)  # fails if a non-empty target appeared meanwhile
    except OSError as error:
        raise FileExistsError(f"{target} was written by someone else meanwhile; write it again "
                              "(for an export, the next version is free).") from error
    shutil.rmtree(retired, ignore_errors=True)


def first_line(error: BaseException) -> str:
    """The first non-empty line of ``error``'s message (its type's name when it has none)."""
    return next((line.strip() for line in str(error).splitlines() if line.strip()),
                type(error).__name__)


#: The name prefix of a file being written, renamed to its own name once complete.
PARTIAL_PREFIX = ".partial-"


def partial_path(path: pathlib.Path) -> pathlib.Path:
    """Where ``path`` is written before the rename (the suffix kept: Keras checks it)."""
    return path.with_name(PARTIAL_PREFIX + path.name)


def atomic_save(save: Callable[[str], Any], path: pathlib.Path) -> None:
    """Call ``save(temporary_path)``, then rename the result to ``path``: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    save(str(partial))
    os.replace(partial, path)


def atomic_write_text(path: pathlib.Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    atomic_save(lambda partial: pathlib.Path(partial).write_text(text, encoding="utf-8"), path)


def file_reason(path: str, empty_ok: bool = False) -> str | None:
    """Why ``path`` cannot be read as a (non-empty, unless ``empty_ok``) regular file, or
    None if it can: it does not exist, is a directory, a FIFO, a symbolic link loop..."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return ("the file does not exist (it is a symbolic link to a missing file)"
                if os.path.islink(path) else "the file does not exist")
    except PermissionError:
        return "permission denied: a folder on the file's path cannot be searched"
    except ValueError:
        return "the path holds a NUL character"
    except OSError as error:
        return {errno.ELOOP: "the path is a symbolic link loop",
                errno.ENOTDIR: "the file does not exist (a part of its path is a file)",
                errno.ENAMETOOLONG: "the path is too long"}.get(
                    error.errno, f"the file cannot be read: {error.strerror}")
    if stat.S_ISDIR(info.st_mode):
        return "the path is a directory, not a file"
    if stat.S_ISFIFO(info.st_mode):
        return "the path is a FIFO (a named pipe), not a regular file"
    if not stat.S_ISREG(info.st_mode):
        return "the path is not a regular file (a device or a socket)"
    if info.st_size == 0 and not empty_ok:
        return "the file is empty"
    try:
        open(path, "rb").close()
    except PermissionError:
        return "permission denied: the file cannot be read"
    except OSError as error:
        return f"the file cannot be read: {error.strerror}"
    return None
