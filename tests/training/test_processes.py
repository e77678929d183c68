"""Training in processes of their own: two logical CPUs, two workers, a killed and resumed run."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from mmzoo.training import EpochBackup, TrainConfig
from tests.training.workers import RESUME_EPOCHS, image_audio_model

ROOT = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT = 90


def start_worker(*args, env=None) -> subprocess.Popen:
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "tests.training.workers", *map(str, args)],
                            cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def result_of(process: subprocess.Popen) -> dict:
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_mirrored_over_two_cpus_matches_the_default_strategy(tmp_path):
    """Per-epoch losses of a MirroredStrategy over 2 logical CPUs equal the default strategy's.

    BatchNormalization normalizes each replica's batch with that batch's statistics,
    so the comparison is designed around it: at every step both replicas get the
    same examples ``A`` and the default strategy gets the global batch ``[A; A]``,
    whose statistics are those of ``A``. Any error in splitting batches, scaling
    the loss by the replica count or aggregating gradients then changes the losses
    of the later epochs (3 epochs of 2 steps). Tolerance: 1e-5 relative (float32
    reductions in another order).
    """
    losses = result_of(start_worker("mirrored", tmp_path))
    assert (losses["mirrored_replicas"], losses["default_replicas"]) == (2, 1)
    np.testing.assert_allclose(losses["mirrored"], losses["default"], rtol=1e-5)
    assert losses["default"][0] != losses["default"][-1]  # it trained


@pytest.mark.slow
def test_two_workers_end_with_identical_weights(tmp_path):
    """Two MultiWorkerMirroredStrategy workers on 127.0.0.1 save the same final model.

    The model has no BatchNormalization: its moving statistics are per worker
    (each worker normalizes its own shard), unlike the weights, which the
    gradient all-reduce keeps in sync.
    """
    addresses = [f"127.0.0.1:{port}" for port in free_ports(2)]
    workers = []
    try:
        for index in range(2):
            tf_config = {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}}
            workers.append(start_worker("multi_worker", tmp_path,
                                        env={"TF_CONFIG": json.dumps(tf_config)}))
        results = [result_of(worker) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    assert [r["replicas"] for r in results] == [2, 2]
    assert results[0]["loss"] == results[1]["loss"]
    chief = keras.models.load_model(tmp_path / "model.keras")
    other = keras.models.load_model(tmp_path / "workers" / "worker_1" / "model.keras")
    for mine, theirs in zip(chief.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert chief.optimizer.iterations.numpy() == 4


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path):
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    killed.mkdir()
    run = start_worker("resume", killed, "--block-at-epoch", 2)
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (killed / "blocked").exists():
            assert run.poll() is None, run.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the run never reached epoch 2"
            time.sleep(0.2)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=TIMEOUT)
    finally:
        run.kill()
        run.communicate()

    # Nothing the kill interrupted is left half-written: every checkpoint loads.
    model = image_audio_model()
    model.compile("adam", "sparse_categorical_crossentropy")
    backup = EpochBackup(killed / "backup")
    assert [p.name for p in backup.files()] == ["epoch-0002.weights.h5"]
    assert backup.restore(model) == 2
    checkpoints = sorted(p.name for p in (killed / "checkpoints").iterdir())
    assert checkpoints == ["best.keras", "last.keras"]
    for name in checkpoints:
        keras.models.load_model(killed / "checkpoints" / name)
    assert len(json.loads((killed / "history.json").read_text())["loss"]) == 2

    resumed = result_of(start_worker("resume", killed))
    assert resumed["epochs_run"] == RESUME_EPOCHS - 2
    assert result_of(start_worker("resume", reference))["epochs_run"] == RESUME_EPOCHS
    final = keras.models.load_model(killed / "model.keras")
    expected = keras.models.load_model(reference / "model.keras")
    for mine, theirs in zip(final.get_weights(), expected.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    history = json.loads((killed / "history.json").read_text())
    assert history == json.loads((reference / "history.json").read_text())
    assert TrainConfig.load(killed / "config.yaml") == TrainConfig.load(reference / "config.yaml").replace(
        output_dir=str(killed))
