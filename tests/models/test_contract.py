"""The contract every registered architecture keeps (KerasHub's run_task_test idea).

Parametrized over ``mmzoo.list_models()``: a newly registered architecture gets
every test here for free.
"""

import copy
import itertools

import keras
import numpy as np
import pytest

import mmzoo
from mmzoo.specs import presence_key
from tests.helpers import garbage_like, model_modalities, random_inputs

ARCHITECTURES = mmzoo.list_models()


@pytest.fixture(scope="module", params=ARCHITECTURES)
def model(request):
    return mmzoo.create_model(request.param)


def _predict(model, inputs):
    """Inference-mode outputs as numpy (a direct call: no tf.function to trace)."""
    return keras.ops.convert_to_numpy(model(inputs, training=False))


def _labels(model, batch_size, seed=0):
    return np.random.default_rng(seed).integers(0, model.output.shape[-1], batch_size)


def test_every_fusion_has_a_tiny_and_a_small_architecture():
    for fusion in mmzoo.list_fusions():
        assert {f"{fusion}_tiny", f"{fusion}_small"} <= set(ARCHITECTURES)


def test_output_shape_and_probabilities(model):
    predictions = _predict(model, random_inputs(model, batch_size=3))
    assert predictions.shape == (3, model.output.shape[-1])
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)


def test_fit_under_xla_reduces_loss_on_a_learnable_batch(model):
    """A few ``fit`` steps, compiled with XLA as TPUs need, memorize a small batch."""
    inputs, labels = random_inputs(model, batch_size=8), _labels(model, 8)
    trainee = keras.models.clone_model(model)
    trainee.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy",
                    jit_compile=True)
    history = trainee.fit(inputs, labels, batch_size=8, epochs=15, verbose=0).history["loss"]
    assert np.isfinite(history).all(), history
    assert history[-1] < 0.7 * history[0], history


def test_keras_file_round_trip_gives_identical_outputs(model, tmp_path):
    inputs = random_inputs(model)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(_predict(reloaded, inputs), _predict(model, inputs))


def test_config_round_trip(model):
    config = model.get_config()
    rebuilt = type(model).from_config(copy.deepcopy(config))  # from_config consumes nested dicts
    assert rebuilt.get_config() == config
    rebuilt.set_weights(model.get_weights())
    inputs = random_inputs(model)
    np.testing.assert_allclose(_predict(rebuilt, inputs), _predict(model, inputs),
                               atol=1e-6)


def test_absent_modalities_contribute_nothing(model):
    """For every subset of absent modalities: finite outputs, and garbage in an absent
    modality gives exactly the output that its real values give."""
    modalities = model_modalities(model)
    for count in range(1, len(modalities) + 1):
        for absent in itertools.combinations(modalities, count):
            inputs = random_inputs(model, absent=absent)
            reference = _predict(model, inputs)
            assert np.isfinite(reference).all(), absent
            scrambled = inputs
            for modality in absent:
                scrambled = garbage_like(scrambled, modality)
            np.testing.assert_allclose(_predict(model, scrambled), reference, atol=1e-6,
                                       err_msg=f"absent={absent}")


def test_present_modalities_do_contribute(model):
    """The other side of the contract: garbage in a present modality changes outputs."""
    inputs = random_inputs(model)
    reference = _predict(model, inputs)
    for modality in model_modalities(model):
        changed = _predict(model, garbage_like(inputs, modality))
        assert not np.allclose(changed, reference, atol=1e-6), modality


def test_every_model_takes_a_presence_flag_per_modality(model):
    modalities = model_modalities(model)
    assert sorted(model.input) == sorted([*modalities, *map(presence_key, modalities)])
