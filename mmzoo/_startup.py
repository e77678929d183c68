"""Quiet TensorFlow's start-up lines when this process is the ``mmzoo`` command or the demo.

Imported by ``mmzoo/__init__.py`` before TensorFlow; imports nothing heavy itself.

``TF_CPP_MIN_LOG_LEVEL`` hides TensorFlow's C++ log lines only once absl logging is
initialised. The lines written while TensorFlow's libraries load (``WARNING: All log
messages before absl::InitializeLog() is called are written to STDERR``, ``cudart_stub.cc:
Could not find cuda drivers``) ignore it, as does the ``failed call to cuInit`` error
of a machine with CUDA libraries but no GPU; and ``python -m mmzoo.cli`` or the console
script import the ``mmzoo`` package, hence TensorFlow, before :func:`mmzoo.cli.main`
runs. So for the command, and only for it, TensorFlow is imported and its devices
found with file descriptor 2 pointed at ``/dev/null`` (restored right after), and
``TF_CPP_MIN_LOG_LEVEL`` defaults to 3 (a user's own setting is kept). ``--verbose``
leaves TensorFlow's logging alone. A library user's ``import mmzoo`` changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import sys

#: The console script's names: ``mmzoo`` (POSIX), ``mmzoo.exe`` / ``mmzoo-script.py`` (Windows).
_COMMAND_NAMES = ("mmzoo", "mmzoo.exe", "mmzoo-script.py")


def running_command() -> bool:
    """Whether this process is the ``mmzoo`` command (the console script or ``python -m
    mmzoo.cli``) or ``make demo`` (``python -m mmzoo.demo``)."""
    argv = list(getattr(sys, "orig_argv", sys.argv))
    if "-m" in argv[:-1]:
        return argv[argv.index("-m") + 1] in ("mmzoo.cli", "mmzoo.demo")
    return bool(sys.argv) and pathlib.Path(sys.argv[0]).name in _COMMAND_NAMES


@contextlib.contextmanager
def quiet_tensorflow_startup():
    """For the command (without ``--verbose``): import TensorFlow with fd 2 silenced."""
    if not running_command() or "--verbose" in sys.argv or "tensorflow" in sys.modules:
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        import tensorflow

        # Finding the devices now logs here what the first op would log later on a machine
        # with CUDA libraries but no GPU ("failed call to cuInit"), whatever the level.
        tensorflow.config.list_physical_devices()
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
    yield
