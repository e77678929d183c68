"""Small helpers with no mmzoo dependencies."""

from __future__ import annotations

import inspect
import os


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
