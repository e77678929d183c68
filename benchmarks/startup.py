"""Start-up: how long ``mmzoo --help``, every ``mmzoo SUB --help`` and ``import mmzoo`` take,
against ``python -c "import keras"``.

Each row is the median wall time of a fresh process (the console script for the
commands, ``python -c`` for the imports), its output discarded. ``import mmzoo`` and the
parser import neither TensorFlow nor Keras (``tests/cli/test_startup.py`` checks that), so
the commands' help costs the interpreter, argparse and PyYAML only. The goal is under 1.5 s
on a quiet 2-core machine, where ``import keras`` takes about 6.6 s: a ratio of at most
0.2x. (``import mmzoo`` used to import all of TensorFlow: ``mmzoo --help`` took 6.2 s.)

Run alone: ``python -m benchmarks.startup``.
"""

from __future__ import annotations

import os
import pathlib
import statistics
import subprocess
import sys
import time

RUNS = 5
KERAS = 'python -c "import keras"'
MMZOO = pathlib.Path(sys.executable).with_name("mmzoo")


def commands() -> dict[str, list[str]]:
    """Row name -> command line, the reference (``import keras``) first."""
    from mmzoo.cli import _parser

    subcommands = next(action.choices for action in _parser()._actions
                       if action.dest == "command")
    python = [sys.executable, "-c"]
    return {KERAS: [*python, "import keras"],
            'python -c "import mmzoo"': [*python, "import mmzoo"],
            "mmzoo --help": [str(MMZOO), "--help"],
            **{f"mmzoo {name} --help": [str(MMZOO), name, "--help"] for name in subcommands}}


TARGETS = {name: ("<=", 0.2) for name in commands() if name != KERAS}  # ratios to import keras


def wall_time(command: list[str]) -> float:
    """The median wall time of ``command`` over ``RUNS`` fresh processes, in seconds."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run() -> list[tuple[str, float, str, float]]:
    """Rows ``(measured, value, unit, ratio)``: each command's median time (ms), its ratio
    to ``import keras``."""
    times = {name: wall_time(command) for name, command in commands().items()}
    return [(name, seconds * 1000, "ms", seconds / times[KERAS]) for name, seconds in times.items()]


if __name__ == "__main__":
    for name, value, unit, ratio in run():
        print(f"{name:32s} {value:8.0f} {unit}  {ratio:5.2f}x")
