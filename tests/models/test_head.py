"""The classifier contract: ``classifier_head`` against what the model actually computes."""

import keras
import numpy as np
import pytest

import mmzoo
from mmzoo.finetuning import freeze_encoders, replace_head
from mmzoo.models import classifier_head, loss_for, task_of
from mmzoo.specs import ImageSpec
from tests.helpers import random_inputs

SPEC = ImageSpec(8, 8, 1)
SMALL = {"width": 2, "depth": 1}


def _model(**kwargs):
    return mmzoo.build_classifier(image=SPEC, encoders={"image": SMALL}, **kwargs)


def _outputs(model):
    return keras.ops.convert_to_numpy(model(random_inputs(model, batch_size=6), training=False))


@pytest.mark.parametrize("kwargs, task, units, num_classes, from_logits", [
    ({"num_classes": 3}, "multiclass", 3, 3, False),
    ({"task": "binary", "num_classes": 2}, "binary", 1, 2, False),
    ({"task": "multilabel", "num_classes": 4}, "multilabel", 4, 4, False),
    ({"num_classes": 3, "classifier_activation": None}, None, 3, 3, True),
    ({"task": "binary", "classifier_activation": None}, None, 1, 2, True),
])
def test_the_head_says_what_the_model_outputs(kwargs, task, units, num_classes, from_logits):
    model = _model(**kwargs)
    head = classifier_head(model)
    assert (head.task, head.units, head.num_classes, head.from_logits) == (
        task, units, num_classes, from_logits)
    assert task_of(model) == task
    assert loss_for(model).get_config()["from_logits"] == from_logits
    outputs = _outputs(model)
    assert outputs.shape == (6, units)
    logits = keras.ops.convert_to_numpy(
        keras.Model(model.input, head.logits_layer.output)(random_inputs(model, batch_size=6)))
    probabilities = head.probabilities(outputs)
    if from_logits:
        np.testing.assert_allclose(outputs, logits, rtol=1e-6)
    if task == "multiclass" or (from_logits and units > 1):
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
        reference = keras.ops.softmax(logits)
    else:
        reference = keras.ops.sigmoid(logits)
    np.testing.assert_allclose(probabilities, keras.ops.convert_to_numpy(reference), rtol=1e-5)


def test_a_head_of_another_activation_has_no_task_nor_probabilities():
    model = _model(num_classes=3, classifier_activation="relu")
    head = classifier_head(model)
    assert (head.task, head.from_logits) == (None, False)
    with pytest.raises(ValueError, match="cannot read probabilities from the 'relu' output"):
        head.probabilities(_outputs(model))
    with pytest.raises(ValueError, match="cannot pick a loss for the 'relu' output"):
        loss_for(model)


def test_layers_features_and_encoders_survive_a_keras_file(tmp_path):
    model = mmzoo.create_model("gated_tiny", head_units=(8,), dropout=0.1, num_classes=4)
    model.save(tmp_path / "model.keras")
    for loaded in (model, keras.models.load_model(tmp_path / "model.keras")):
        head = classifier_head(loaded)
        assert [layer.name for layer in head.layers] == [
            "head_dense_0", "head_dropout_0", "logits", "predictions"]
        assert head.features is loaded.get_layer("fusion").output[0]  # gated: (fused, weights)
        encoders = head.encoders()
        assert list(encoders) == ["text", "image", "audio"]
        assert all(encoders[m] is loaded.get_layer(f"{m}_encoder") for m in encoders)
        assert list(head.encoders(["audio"])) == ["audio"]


def test_your_own_encoder_and_fusion_are_found_whatever_their_names():
    inputs = SPEC.keras_input()
    encoder = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs), name="my_cnn")
    fusion = mmzoo.fusion.ConcatFusion(name="my_fusion")
    model = mmzoo.build_classifier(image=SPEC, encoders={"image": encoder}, fusion=fusion,
                                   num_classes=3, head_units=(4,))
    head = classifier_head(model)
    assert head.encoders() == {"image": encoder}
    assert head.features is fusion.output
    freeze_encoders(model)
    assert not encoder.trainable
    replaced = replace_head(model, num_classes=5, keep_hidden_layers=False)
    assert [layer.name for layer in classifier_head(replaced).layers] == ["logits", "predictions"]
    assert replaced.output.shape == (None, 5)


def _logistic_model():
    inputs = keras.Input((1,), name="x")
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="p")(inputs))


@pytest.mark.parametrize("model", [
    _logistic_model,
    lambda: _model(include_top=False),
    lambda: mmzoo.with_modality_weights(mmzoo.create_model("gated_tiny")),
], ids=["plain_keras", "no_top", "with_modality_weights"])
def test_a_model_that_is_not_an_mmzoo_classifier_is_named(model):
    model = model()
    with pytest.raises(ValueError, match=rf"model '{model.name}' is not an mmzoo classifier "
                                         r"\(one output from a 'logits' Dense"):
        classifier_head(model)


def test_any_single_output_model_gets_a_loss_by_its_activation():
    assert isinstance(loss_for(_logistic_model()), keras.losses.BinaryCrossentropy)
