"""``make demo``'s job, run as a user runs it, on the generated sample (no real data)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    environment = {**os.environ, "MMZOO_DATA_DIR": str(folder / "no-data-here")}
    # a relative --output, as `make demo` passes (the manifests' paths must still resolve)
    result = subprocess.run([sys.executable, "-m", "mmzoo.demo", "--output", "out"], cwd=folder,
                            capture_output=True, text=True, env=environment, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "out", result.stdout


def test_says_where_its_data_came_from(demo_run):
    _, stdout = demo_run
    data_line = next(line for line in stdout.splitlines() if line.startswith("[1/6] data:"))
    assert "generated sample" in data_line or "/usr/share/tuxpaint/stamps" in data_line


def test_every_step_reports_and_writes_its_output(demo_run):
    output, stdout = demo_run
    for step in range(1, 7):
        assert f"[{step}/6]" in stdout
    assert (output / "preset" / "model.weights.h5").is_file()
    assert (output / "serving" / "stamps_living" / "1" / "saved_model.pb").is_file()
    for name in ("training_curves", "confusion_matrix", "modality_ablation"):
        png = (output / "plots" / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000, name


def test_fine_tuned_checkpoint_beats_the_majority_class(demo_run):
    output, _ = demo_run
    report = json.loads((output / "report.json").read_text())
    counts = np.asarray(report["test"]["confusion_matrix"]).sum(axis=1)
    assert report["test"]["accuracy"] > counts.max() / counts.sum() + 0.1


def test_served_predictions_match_the_keras_model(demo_run):
    output, _ = demo_run
    answers = json.loads((output / "report.json").read_text())["served_predictions"]
    assert len(answers) == 3
    for answer in answers:
        np.testing.assert_allclose(answer["probabilities"], answer["keras_probabilities"], atol=1e-4)
        assert answer["class_name"] == ("living", "non-living")[int(np.argmax(answer["probabilities"]))]
