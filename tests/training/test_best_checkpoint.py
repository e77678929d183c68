"""The best checkpoint across a resume: the monitored metric's direction is Keras' own.

A one-weight logistic model whose weights a callback sets at the start of every epoch
(the learning rate is too small to move them) scores, epoch by epoch, the best, the
worst and then a middling value of every metric monitored here. The middling epoch
comes after the resume: it must not replace the best epoch's checkpoint.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmzoo.training import TrainConfig, train


@keras.saving.register_keras_serializable(package="tests")
class HitRate(keras.metrics.Metric):
    """The fraction of examples whose sigmoid output is on the side of their label;
    higher is better, as its ``_direction`` tells Keras' ``mode="auto"``."""

    def __init__(self, name="hit_rate", **kwargs):
        super().__init__(name=name, **kwargs)
        self._direction = "up"
        self.hits = self.add_variable((), initializer="zeros", name="hits")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        predicted = keras.ops.cast(y_pred[:, 0] > 0.5, "float32")
        truth = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "float32")
        self.hits.assign_add(keras.ops.sum(keras.ops.cast(predicted == truth, "float32")))
        self.count.assign_add(keras.ops.cast(keras.ops.shape(truth)[0], "float32"))

    def result(self):
        return self.hits / self.count


X = np.array([[-2.0], [-1.0], [1.0], [2.0]], np.float32)
Y = np.array([0, 0, 1, 1], np.int32)
#: (kernel, bias) per epoch: every example right (accuracy, precision, hit rate 1, loss
#: ~0.004), every example wrong (0, 0, 0, loss ~5), every example called positive (0.5,
#: 0.5, 0.5, loss ~0.81).
SCHEDULE = {0: (5.0, 0.0), 1: (-5.0, 0.0), 2: (0.0, 1.0)}


def logistic_model():
    inputs = keras.Input((1,), name="x")
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="p")(inputs))


class ScriptedWeights(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        kernel, bias = SCHEDULE[epoch]
        self.model.get_layer("p").set_weights([np.array([[kernel]], np.float32),
                                               np.array([bias], np.float32)])


def batches(context):
    return tf.data.Dataset.from_tensor_slices((X, Y)).batch(4)


@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy", "val_precision", "val_hit_rate"])
def test_a_resumed_run_keeps_the_best_checkpoint_of_the_earlier_epochs(tmp_path, monitor):
    config = TrainConfig(epochs=2, batch_size=4, optimizer="sgd", learning_rate=1e-30,
                         metrics=("accuracy", "precision", "tests>HitRate"), monitor=monitor,
                         save_weights_only=True, strategy="default", verbose=0,
                         output_dir=str(tmp_path / "run"))
    best = tmp_path / "run" / "checkpoints" / "best.weights.h5"

    def best_kernel():
        model = logistic_model()
        model.load_weights(best)
        return float(model.get_layer("p").get_weights()[0][0, 0])

    history = train(logistic_model, batches, config, validation_data=batches,
                    callbacks=[ScriptedWeights()])
    # The schedule does what it says (reference values by hand).
    np.testing.assert_allclose(history.history["val_accuracy"], [1.0, 0.0])
    assert best_kernel() == SCHEDULE[0][0]

    resumed = train(logistic_model, batches, config.replace(epochs=3), validation_data=batches,
                    callbacks=[ScriptedWeights()])
    assert resumed.epoch == [2]  # it did resume, and trained the middling epoch
    np.testing.assert_allclose(resumed.history["val_accuracy"], [0.5])
    assert best_kernel() == SCHEDULE[0][0]  # not replaced by the middling epoch
