"""get_strategy: selection logic with mocked hardware, errors, and the real CPU strategies."""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

from mmzoo import distribute
from mmzoo.distribute import cluster_workers, get_strategy

TWO_WORKERS = {"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]},
               "task": {"type": "worker", "index": 0}}


@pytest.fixture
def hardware(monkeypatch):
    """Fake TPU, GPUs and TF_CONFIG; strategies are recorded as (class name, argument)."""
    monkeypatch.delenv("TF_CONFIG", raising=False)

    def set_hardware(tpu=False, gpus=0, tf_config=None):
        devices = [tf.config.LogicalDevice(f"/device:GPU:{i}", "GPU") for i in range(gpus)]
        real_list = tf.config.list_logical_devices
        monkeypatch.setattr(tf.config, "list_logical_devices",
                            lambda kind=None: devices if kind == "GPU" else real_list(kind))
        monkeypatch.setattr(distribute, "_find_tpu", lambda address: "resolver" if tpu else None)
        if tf_config is not None:
            monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))

    for name in ("MirroredStrategy", "OneDeviceStrategy", "TPUStrategy"):
        monkeypatch.setattr(tf.distribute, name, lambda arg=None, _name=name: (_name, arg))
    monkeypatch.setattr(distribute, "_KerasMultiWorkerMirroredStrategy",
                        lambda: ("MultiWorkerMirroredStrategy", None))
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", lambda resolver: None)
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", lambda resolver: None)
    return set_hardware


@pytest.mark.parametrize("found, expected", [
    ({"tpu": True, "gpus": 2, "tf_config": TWO_WORKERS}, ("TPUStrategy", "resolver")),
    ({"gpus": 2, "tf_config": TWO_WORKERS}, ("MultiWorkerMirroredStrategy", None)),
    ({"gpus": 2}, ("MirroredStrategy", ["/device:GPU:0", "/device:GPU:1"])),
    ({"gpus": 1}, ("OneDeviceStrategy", "/device:GPU:0")),
    ({"gpus": 1, "tf_config": {"cluster": {"worker": ["127.0.0.1:1"]}}},
     ("OneDeviceStrategy", "/device:GPU:0")),
])
def test_auto_picks_the_strategy_for_the_hardware(hardware, found, expected):
    hardware(**found)
    assert get_strategy("auto") == expected


def test_auto_without_accelerators_or_cluster_is_the_default_strategy(hardware):
    hardware()
    assert get_strategy() is tf.distribute.get_strategy()


@pytest.mark.parametrize("name, found, expected", [
    ("gpu", {"gpus": 2}, ("OneDeviceStrategy", "/device:GPU:0")),
    ("one_device", {"gpus": 1}, ("OneDeviceStrategy", "/device:GPU:0")),
    ("mirrored", {"gpus": 2}, ("MirroredStrategy", ["/device:GPU:0", "/device:GPU:1"])),
    ("cpu", {"gpus": 2}, ("OneDeviceStrategy", "/cpu:0")),
    ("TPU", {"tpu": True}, ("TPUStrategy", "resolver")),
    ("multi_worker", {"tf_config": TWO_WORKERS}, ("MultiWorkerMirroredStrategy", None)),
])
def test_explicit_names(hardware, name, found, expected):
    hardware(**found)
    assert get_strategy(name) == expected


@pytest.mark.parametrize("name, found, message", [
    ("gpu", {}, r"get_strategy\('gpu'\) needs a GPU, but TensorFlow sees none .* or use 'cpu'"),
    ("tpu", {"gpus": 1}, r"get_strategy\('tpu'\) found no TPU .*pass the TPU's name"),
    ("multi_worker", {}, r"needs TF_CONFIG naming at least two workers, but TF_CONFIG is unset"),
    ("multi_worker", {"tf_config": {"cluster": {"worker": ["127.0.0.1:1"]}}},
     "its cluster has one worker"),
    ("horovod", {}, r"strategy='horovod' is unknown; use one of \['auto'"),
])
def test_absent_hardware_is_a_clear_error(hardware, name, found, message):
    hardware(**found)
    with pytest.raises(ValueError, match=message):
        get_strategy(name)


def test_malformed_tf_config_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "{cluster: oops")
    with pytest.raises(ValueError, match="TF_CONFIG is not a JSON object"):
        cluster_workers()


def test_real_strategies_on_this_machine(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    cpu = get_strategy("cpu")
    assert isinstance(cpu, tf.distribute.OneDeviceStrategy)
    assert cpu.num_replicas_in_sync == 1
    assert get_strategy("default") is tf.distribute.get_strategy()
    mirrored = get_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    expected = len(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU"))
    assert mirrored.num_replicas_in_sync == expected
