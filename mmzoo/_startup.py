"""TensorFlow imported without its start-up lines, for the ``mmzoo`` command and ``make demo``.

``import mmzoo`` and ``mmzoo --help`` no longer import TensorFlow, so they print nothing of
it. A subcommand that runs does import it, and ``TF_CPP_MIN_LOG_LEVEL`` hides TensorFlow's
C++ log lines only once absl logging is initialised: the lines written while its
libraries load (``WARNING: All log messages before absl::InitializeLog() is called are
written to STDERR``, ``cudart_stub.cc: Could not find cuda drivers``, oneDNN's notice)
ignore it, as does the ``failed call to cuInit`` error of a machine with CUDA libraries
but no GPU. So :func:`import_tensorflow_quietly` imports TensorFlow and finds its devices
with file descriptor 2 pointed at ``/dev/null`` (restored right after), and
``TF_CPP_MIN_LOG_LEVEL`` defaults to 3 (a user's own setting is kept). The command calls it
once its arguments are parsed, unless ``--verbose``; ``mmzoo.demo`` calls it first. A
library user's ``import mmzoo`` changes nothing.
"""

from __future__ import annotations

import os
import sys


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (if not yet imported) with fd 2 silenced."""
    if "tensorflow" in sys.modules:
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
