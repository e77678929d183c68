"""A fourth modality, "sensor" (a short 1-D signal written as numbers in a manifest cell),
added by one converter class and its registration: sources, the bad-data policy, the
pipelines, prepare, the builder and the export take it with no other change."""

from __future__ import annotations

import csv
import dataclasses
from typing import ClassVar

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmzoo import build_classifier, export_saved_model
from mmzoo.converters import Converter, register_converter, unregister_converter
from mmzoo.data import from_manifest, make_dataset, prepare
from mmzoo.preprocessing import Preprocessor
from mmzoo.specs import Spec, TextSpec


@dataclasses.dataclass(frozen=True)
class SensorSpec(Spec):
    """A signal of ``length`` float32 samples: longer ones are cut, shorter padded with 0."""

    length: int = 6

    modality: ClassVar[str] = "sensor"
    dtype: ClassVar[str] = "float32"

    @property
    def shape(self):
        return (self.length,)


class SensorConverter(Converter):
    """Space-separated numbers ("0.5 -1 2") to the spec's signal."""

    modality: ClassVar[str] = "sensor"
    spec_class: ClassVar[type] = SensorSpec
    holds_paths: ClassVar[bool] = False
    expected_content: ClassVar[str] = "space-separated numbers"

    def preprocess(self, value, raw):
        samples = tf.strings.to_number(tf.strings.split(value), tf.float32)[:self.spec.length]
        return tf.pad(samples, [[0, self.spec.length - tf.shape(samples)[0]]])

    def sample_input(self) -> str:
        return "0 1 0 -1"


@pytest.fixture
def sensor():
    register_converter(SensorConverter)
    yield SensorSpec(length=6)
    unregister_converter("sensor")


def _signal(text: str, length: int) -> np.ndarray:
    """The reference parse: Python floats, cut or padded with zeros."""
    values = [float(word) for word in text.split()][:length]
    return np.pad(np.asarray(values, np.float32), (0, length - len(values)))


ROWS = [("a rising signal", "0 1 2 3", "up"), ("falling", "3 2 1 0 -1 -2 -3 -4", "down"),
        ("no signal", "", "up"), ("up again", "0.5 1.5", "up"), ("down it goes", "2 1.25", "down"),
        ("bad cell", "1 two 3", "down"), ("up", "1 2 3 4 5 6", "up"), ("down", "9 8", "down")]


@pytest.fixture
def manifest(tmp_path):
    path = tmp_path / "sensor.csv"
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "sensor", "label"])
        writer.writerows(ROWS)
    return path


def test_a_registered_modality_goes_from_manifest_to_served_prediction(sensor, manifest,
                                                                          tmp_path, caplog):
    source = from_manifest(manifest)
    pre = Preprocessor(text=TextSpec(vocabulary_size=32, sequence_length=4), sensor=sensor)
    pre = pre.adapted_on(source)
    assert pre.modalities == ("text", "sensor")

    # The pipeline: every good row's signal parsed as the reference does; the bad cell named.
    dataset = make_dataset(source, pre, batch_size=8, drop_remainder=False, on_error="skip")
    features, labels = next(iter(dataset))
    good = [row for row in ROWS if row[1] != "1 two 3"]
    np.testing.assert_array_equal(features["sensor"].numpy(),
                                  np.stack([_signal(row[1], 6) for row in good]))
    assert features["sensor_present"].numpy().tolist() == [float(bool(row[1])) for row in good]
    assert "sensor.csv row 6 (line 7): cannot decode the sensor" in caplog.text
    with pytest.raises(tf.errors.InvalidArgumentError, match="line 7.*cannot decode the sensor"):
        list(make_dataset(source, pre, batch_size=8))

    # prepare stores the signals; the prepared folder gives the same batches.
    prepared = prepare(source, pre, tmp_path / "prepared", num_shards=2, on_error="skip")
    assert prepared.num_examples == len(good)
    assert prepared.specs["sensor"] == sensor.get_config()
    from_records = next(iter(make_dataset(prepared, pre, batch_size=8, drop_remainder=False)))[0]
    np.testing.assert_array_equal(from_records["sensor"].numpy(), features["sensor"].numpy())

    # The builder takes the spec and your encoder; the model trains on the pipeline.
    signal = sensor.keras_input()
    encoder = keras.Model(signal, keras.layers.Dense(8, activation="relu")(signal),
                          name="sensor_encoder")
    model = build_classifier(text=pre.specs["text"], sensor=sensor, encoders={"sensor": encoder},
                             num_classes=len(source.class_names))
    assert sorted(model.input) == ["sensor", "sensor_present", "text", "text_present"]
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(dataset, epochs=1, verbose=0)

    # The export serves raw strings for the new input, as the model computes in-process.
    folder = export_saved_model(model, tmp_path / "serving", preprocessor=pre,
                                class_names=list(source.class_names))
    serve = tf.saved_model.load(str(folder)).signatures["serving_default"]
    raw = {"text": tf.constant(["a rising signal", ""]), "sensor": tf.constant(["0 1 2 3", "9 8"])}
    served = serve(**raw)["probabilities"].numpy()
    np.testing.assert_allclose(served, model(pre(raw), training=False).numpy(), atol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="sensor: the examples at these batch "
                                                             "indices are not space-separated numbers"):
        serve(text=tf.constant(["x"]), sensor=tf.constant(["one"]))
