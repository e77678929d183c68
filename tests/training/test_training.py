"""train() and TrainConfig: config files, class weights, mixed precision, outputs, tf.data service."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmzoo
from mmzoo.data import from_arrays
from mmzoo.distribute import use_data_service
from mmzoo.preprocessing import Preprocessor
from mmzoo.training import TrainConfig, balanced_class_weights, train
from tests.helpers import random_inputs
from tests.training.workers import array_batches, image_audio_model


def quiet_config(tmp_path, **fields):
    return TrainConfig(**{"epochs": 1, "batch_size": 8, "strategy": "default", "seed": 5,
                          "output_dir": str(tmp_path / "run"), "verbose": 0, **fields})


def test_config_round_trips_through_a_yaml_file(tmp_path):
    config = TrainConfig(epochs=3, mixed_precision="mixed_bfloat16", class_weight={0: 1.0, 2: 3.5},
                         metrics=["accuracy"], patience=2, deterministic=True, seed=4,
                         data_service="grpc://127.0.0.1:5050", jit_compile=False)
    config.save(tmp_path / "cfg.yaml")
    assert TrainConfig.load(tmp_path / "cfg.yaml") == config
    assert TrainConfig.from_dict(config.to_dict()) == config
    (tmp_path / "partial.yaml").write_text("epochs: 7\nstrategy: mirrored\n")
    assert TrainConfig.load(tmp_path / "partial.yaml") == TrainConfig(epochs=7, strategy="mirrored")


@pytest.mark.parametrize("fields, message", [
    ({"epochs": 0}, r"TrainConfig.epochs=0 is invalid: use an integer >= 1"),
    ({"batch_size": 2.5}, r"TrainConfig.batch_size=2.5 is invalid"),
    ({"learning_rate": -1}, r"TrainConfig.learning_rate=-1 is invalid: use a number > 0"),
    ({"strategy": "gpus"}, r"TrainConfig.strategy='gpus' is invalid: use one of"),
    ({"mixed_precision": "float16"}, r"mixed_precision='float16' is invalid: use one of"),
    ({"deterministic": True}, r"TrainConfig.seed=None is invalid: deterministic=True needs"),
    ({"class_weight": "inverse"}, r"class_weight='inverse' is invalid: use None, 'balanced'"),
    ({"class_weight": {"a": 1}}, r"class_weight=\{'a': 1\} is invalid: map integer class ids"),
    ({"patience": -1}, r"TrainConfig.patience=-1 is invalid"),
])
def test_bad_config_fields_are_named(fields, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**fields)


def test_unknown_config_fields_are_named(tmp_path):
    (tmp_path / "cfg.yaml").write_text("epochs: 3\nlr: 0.1\n")
    with pytest.raises(ValueError, match=r"TrainConfig has no fields \['lr'\]; the fields are"):
        TrainConfig.load(tmp_path / "cfg.yaml")


def test_balanced_class_weights_by_hand():
    # 6 examples, 3 classes present: 6 / (3 * count); class 3 is absent and keeps 1.0
    assert balanced_class_weights([0, 0, 0, 1, 2, 2], num_classes=4) == {
        0: 6 / 9, 1: 2.0, 2: 1.0, 3: 1.0}
    with pytest.raises(ValueError, match="integer class ids"):
        balanced_class_weights([[0, 1], [1, 0]])


def test_class_weights_weigh_the_loss_as_computed_by_hand(tmp_path):
    """The first epoch's loss (one batch, before the update) is the weighted cross-entropy."""
    initial = {}

    def model_fn():
        model = image_audio_model()
        # BatchNormalization in training mode: the statistics the train step uses.
        initial["probabilities"] = model(features, training=True).numpy()
        return model

    features = random_inputs(image_audio_model(), 6, seed=2)
    labels = np.array([0, 0, 0, 1, 2, 2])

    def batches(context):
        return tf.data.Dataset.from_tensor_slices((features, labels)).batch(6)

    history = train(model_fn, batches, quiet_config(tmp_path, batch_size=6,
                                                    class_weight="balanced", metrics=()))
    cross_entropy = -np.log(initial["probabilities"][np.arange(6), labels])
    weights = np.array([6 / 9, 6 / 9, 6 / 9, 2.0, 1.0, 1.0])
    expected = np.mean(weights * cross_entropy)
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert not np.isclose(expected, cross_entropy.mean(), rtol=1e-3)


@pytest.mark.parametrize("policy, jit_compile", [("mixed_float16", False),
                                                 ("mixed_bfloat16", True)])
def test_mixed_precision_trains_with_float32_predictions(tmp_path, policy, jit_compile):
    data = array_batches(image_audio_model, 16, 8)
    history = train(image_audio_model, data,
                    quiet_config(tmp_path, mixed_precision=policy, jit_compile=jit_compile,
                                 steps_per_epoch=2, epochs=2))
    model = history.model
    assert model.get_layer("logits").compute_dtype == policy.removeprefix("mixed_")
    assert model.get_layer("logits").kernel.dtype == "float32"
    features, _ = next(iter(data(tf.distribute.InputContext())))
    assert model(features).dtype == "float32"
    assert all(np.isfinite(history.history["loss"]))
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored


def test_sources_train_into_the_documented_layout(tmp_path):
    image, audio = mmzoo.ImageSpec(16, 16, 1), mmzoo.AudioSpec(8000, 0.25, num_mel_bins=16,
                                                                fft_length=256, hop_length=128)
    rng = np.random.default_rng(0)
    labels = np.arange(24) % 2
    source = from_arrays(labels, image=rng.integers(0, 255, (24, 16, 16), dtype=np.uint8),
                         audio=rng.uniform(-1, 1, (24, 2000)).astype("float32"),
                         audio_sample_rate=8000, class_names=["a", "b"])
    config = quiet_config(tmp_path, epochs=2, patience=3)
    history = train("concat_tiny", source, config, validation_data=source,
                    preprocessor=Preprocessor(image=image, audio=audio),
                    model_options={"modalities": ("image", "audio"), "image": image,
                                   "audio": audio, "num_classes": 2})
    run = tmp_path / "run"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.keras", "last.keras"]
    assert [p.name for p in (run / "backup").iterdir()] == ["epoch-0002.weights.h5"]
    assert (run / "logs" / "train").is_dir() and (run / "logs" / "validation").is_dir()
    assert TrainConfig.load(run / "config.yaml") == config
    saved_history = json.loads((run / "history.json").read_text())
    assert saved_history.keys() == history.history.keys()
    for metric, values in history.history.items():
        np.testing.assert_allclose(saved_history[metric], values, rtol=1e-7)
    final = keras.models.load_model(run / "model.keras")
    features, _ = next(iter(from_arrays_batches(source, image, audio)))
    np.testing.assert_allclose(final.predict(features, verbose=0),
                               history.model.predict(features, verbose=0), rtol=1e-6)
    assert not list(run.rglob(".partial-*"))


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_a_bad_file_stops_training_with_its_name_or_is_skipped(tmp_path, on_error):
    from mmzoo.data import from_rows
    from tests.data_files import pattern, write_image

    rows = [{"image": str(write_image(tmp_path / f"{i}.png", pattern(16, 16, 1, seed=i))),
             "label": i % 2} for i in range(12)]
    (tmp_path / "5.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    source = from_rows(rows, [f"row {i}" for i in range(12)], class_names=["a", "b"])
    image = mmzoo.ImageSpec(16, 16, 1)

    def run():
        return train("concat_tiny", source,
                     quiet_config(tmp_path, epochs=2, batch_size=4, on_error=on_error),
                     preprocessor=Preprocessor(image=image),
                     model_options={"modalities": ("image",), "image": image, "num_classes": 2})

    if on_error == "raise":
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"row 5 \(.*5.png\): cannot decode the image"):
            run()
    else:
        assert len(run().history["loss"]) == 2


def from_arrays_batches(source, image, audio):
    from mmzoo.data import make_dataset

    return make_dataset(source, Preprocessor(image=image, audio=audio), 4)


def test_a_built_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="model must be an architecture name or a function"):
        train(image_audio_model(), array_batches(image_audio_model, 8, 8), quiet_config(tmp_path))


@pytest.mark.parametrize("fields, message", [
    ({"optimizer": "adamm"}, r"TrainConfig.optimizer='adamm' is invalid: use a Keras optimizer"),
    ({"loss": "cross_entropy"}, r"TrainConfig.loss='cross_entropy' is invalid: use 'auto' or"),
])
def test_an_unknown_optimizer_or_loss_is_named_before_training(tmp_path, fields, message):
    with pytest.raises(ValueError, match=message):
        train(image_audio_model, array_batches(image_audio_model, 8, 8),
              quiet_config(tmp_path, **fields))
    assert not (tmp_path / "run" / "history.json").exists()


def test_data_of_unknown_length_needs_steps_per_epoch(tmp_path):
    data = array_batches(image_audio_model, 16, 8)
    with pytest.raises(ValueError, match="set TrainConfig.steps_per_epoch"):
        train(image_audio_model, lambda context: data(context).filter(lambda x, y: True),
              quiet_config(tmp_path))


def test_balancing_classes_of_data_with_no_batch_says_so(tmp_path):
    data = array_batches(image_audio_model, 16, 8)
    with pytest.raises(ValueError, match="the training data yields no batch"):
        train(image_audio_model, lambda context: data(context).take(0),
              quiet_config(tmp_path, class_weight="balanced", steps_per_epoch=1))


@pytest.fixture(scope="module")
def data_service():
    """A dispatcher and two workers on 127.0.0.1, in this process."""
    dispatcher = tf.data.experimental.service.DispatchServer(
        tf.data.experimental.service.DispatcherConfig(port=0))
    address = dispatcher.target.split("://")[1]
    workers = [tf.data.experimental.service.WorkerServer(
        tf.data.experimental.service.WorkerConfig(
            dispatcher_address=address, worker_address="127.0.0.1:%port%", port=0))
        for _ in range(2)]
    yield f"grpc://127.0.0.1:{address.rsplit(':', 1)[1]}"
    del workers, dispatcher  # the servers stop when collected


def test_data_service_serves_each_element_once_per_epoch(data_service):
    served = use_data_service(tf.data.Dataset.range(40).map(lambda i: i * 3), data_service)
    assert sorted(int(x) for x in served) == list(range(0, 120, 3))


def test_training_reads_its_batches_from_the_data_service(tmp_path, data_service):
    data = array_batches(image_audio_model, 16, 8)
    history = train(image_audio_model, data,
                    quiet_config(tmp_path, epochs=2, steps_per_epoch=2, data_service=data_service))
    assert len(history.history["loss"]) == 2
    assert history.model.optimizer.iterations.numpy() == 4
