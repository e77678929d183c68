"""Training runs that need a process of their own, started by the tests with ``python -m``.

``python -m tests.training.workers mirrored OUT``: losses of the same training under a
MirroredStrategy over two logical CPUs and under the default strategy.
``python -m tests.training.workers multi_worker OUT``: one worker of ``$TF_CONFIG``'s cluster.
``python -m tests.training.workers resume OUT [--block-at-epoch K]``: a deterministic run;
with ``--block-at-epoch`` it writes ``OUT/blocked`` when epoch K begins and waits to be killed.
Each prints its result as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf

import mmzoo
import mmzoo.distribute
from mmzoo.training import TrainConfig, train
from tests.helpers import random_inputs


def array_batches(model_fn, examples, global_batch, seed=0, duplicate_per_replica=False):
    """A dataset function over random inputs of ``model_fn()``'s model, labels cycling 0, 1, 2.

    ``duplicate_per_replica``: every replica gets the same examples at a step, i.e.
    with two replicas the global batch is ``[A; A]`` (see ``mirrored``).
    """
    features = random_inputs(model_fn(), examples, seed=seed)
    labels = np.arange(examples) % 3

    def dataset_fn(context):
        dataset = tf.data.Dataset.from_tensor_slices((features, labels))
        if duplicate_per_replica:  # batches of A_s, each repeated once per replica
            half = global_batch // 2
            dataset = dataset.batch(half, drop_remainder=True)
            if context.get_per_replica_batch_size(global_batch) == half:
                return dataset.flat_map(lambda x, y: tf.data.Dataset.from_tensors((x, y)).repeat(2))
            return dataset.map(lambda x, y: tf.nest.map_structure(
                lambda t: tf.concat([t, t], axis=0), (x, y)))
        dataset = dataset.shard(context.num_input_pipelines, context.input_pipeline_id)
        return dataset.batch(context.get_per_replica_batch_size(global_batch), drop_remainder=True)

    return dataset_fn


def image_audio_model():
    return mmzoo.create_model("concat_tiny", modalities=("image", "audio"), num_classes=3)


def text_model():
    return mmzoo.create_model("concat_tiny", modalities=("text",), num_classes=3)


def mirrored(out: pathlib.Path) -> dict:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    losses = {}
    for strategy in ("mirrored", "default"):
        config = TrainConfig(epochs=3, steps_per_epoch=2, batch_size=8, strategy=strategy,
                             seed=7, output_dir=str(out / strategy), verbose=0, metrics=())
        data = array_batches(image_audio_model, 16, 8, duplicate_per_replica=True)
        history = train(image_audio_model, data, config)
        losses[strategy] = history.history["loss"]
        losses[f"{strategy}_replicas"] = history.model.distribute_strategy.num_replicas_in_sync
    return losses


def multi_worker(out: pathlib.Path) -> dict:
    strategy = mmzoo.distribute.get_strategy("multi_worker")  # before any TF op
    config = TrainConfig(epochs=2, steps_per_epoch=2, batch_size=8, strategy="multi_worker",
                         seed=3, output_dir=str(out), verbose=0)
    history = train(text_model, array_batches(text_model, 32, 8), config, strategy=strategy)
    return {"loss": history.history["loss"],
            "replicas": history.model.distribute_strategy.num_replicas_in_sync}


class BlockAtEpoch(keras.callbacks.Callback):
    """Writes ``marker`` when epoch ``epoch`` begins, then sleeps until killed."""

    def __init__(self, epoch: int, marker: pathlib.Path):
        super().__init__()
        self.epoch, self.marker = epoch, marker

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.marker.write_text(str(epoch))
            time.sleep(120)


RESUME_EPOCHS = 4


def resume_config(out: pathlib.Path):
    return TrainConfig(epochs=RESUME_EPOCHS, batch_size=8, deterministic=True, seed=11,
                       output_dir=str(out), verbose=0, validation_steps=1)


def resume(out: pathlib.Path, block_at_epoch: int | None) -> dict:
    data = array_batches(image_audio_model, 24, 8)
    callbacks = [BlockAtEpoch(block_at_epoch, out / "blocked")] if block_at_epoch is not None else []
    history = train(image_audio_model, data, resume_config(out), validation_data=data,
                    callbacks=callbacks)
    return {"epochs_run": len(history.history["loss"])}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["mirrored", "multi_worker", "resume"])
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--block-at-epoch", type=int)
    args = parser.parse_args()
    if args.command == "mirrored":
        result = mirrored(args.out)
    elif args.command == "multi_worker":
        result = multi_worker(args.out)
    else:
        result = resume(args.out, args.block_at_epoch)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
