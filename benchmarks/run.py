"""``make bench``: every benchmark, side by side in one run, as one table of ratios.

Each benchmark module has ``run() -> list[(measured, value, unit, ratio)]``, the
ratio against the first row of its group measured in the same run; the table is
printed and written to ``docs/benchmarks.md`` with the machine's description,
because absolute numbers mean little on a shared machine.
"""

from __future__ import annotations

import datetime
import os
import pathlib
import platform

from benchmarks import memory, pipeline, serving, training

BENCHMARKS = {
    "Input pipeline (stamps, raw files to batches)": pipeline,
    "Training throughput (MultiBench AV-MNIST late fusion, batch 64)": training,
    "Memory (training from TFRecords)": memory,
    "Serving (attention_small SavedModel on raw inputs vs Keras predict)": serving,
}
REPORT = pathlib.Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine() -> str:
    import tensorflow as tf

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, TensorFlow {tf.__version__}, "
            f"load average {os.getloadavg()[0]:.1f} at start")


def table(results: dict[str, list[tuple[str, float, str, float]]]) -> str:
    lines = ["| benchmark | measured | value | ratio |", "|---|---|---:|---:|"]
    for title, rows in results.items():
        lines += [f"| {title} | {name} | {value:,.1f} {unit} | {ratio:.2f}x |"
                  for name, value, unit, ratio in rows]
    return "\n".join(lines)


def main():
    description = machine()
    results = {title: module.run() for title, module in BENCHMARKS.items()}
    report = table(results)
    print(report)
    REPORT.write_text(
        "# Benchmarks\n\nWritten by `make bench` "
        f"({datetime.date.today().isoformat()}) on: {description}.\n\n"
        "Every ratio compares rows measured in the same run on the same machine.\n\n"
        f"{report}\n"
    )
    print(f"\nwritten to {REPORT}")


if __name__ == "__main__":
    main()
