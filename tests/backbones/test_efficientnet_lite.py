"""EfficientNet-Lite0: the Keras port's ImageNet logits against the PyTorch reference's
(``tests/backbones/fixtures/efficientnet_lite0_logits.npz``, written by
``benchmarks/references/image_parity.py`` from the torch model's logits on the same pixels)."""

import pathlib

import numpy as np
import pytest

from mmzoo.backbones.efficientnet_lite import BACKBONE
from tests.backbones.imagenet_photos import SANITY_LABELS, decode_files, photo_labels, real_files

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "efficientnet_lite0_logits.npz"


@pytest.fixture(scope="module")
def logits(data_dir):
    """(names, reference logits, the port's logits) of the 11 photos and 20 stamps."""
    if BACKBONE.weights_file.location() is None:
        pytest.skip(f"the weights package is missing: {BACKBONE.weights_file.install_hint()}")
    reference = np.load(FIXTURE)
    files = real_files(data_dir)
    names = [str(n) for n in reference["names"]]
    model = BACKBONE.build_model(BACKBONE.spec(), include_top=True)
    BACKBONE.load_pretrained(model, BACKBONE.weights_file.path())
    pixels = decode_files([files[n] for n in names], BACKBONE.spec())
    return names, reference["logits"], model.predict(pixels, batch_size=32, verbose=0)


def test_logits_match_the_torch_reference(logits):
    names, reference, ours = logits
    assert len(names) == 31
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(ours.argmax(-1), reference.argmax(-1))


def test_the_photos_top1_labels_are_right(logits):
    names, reference, ours = logits
    assert photo_labels(names, reference, 1) == photo_labels(names, ours, 1)
    labels = photo_labels(names, ours, 1)
    assert {name: labels[name] for name in SANITY_LABELS} == SANITY_LABELS


def test_a_state_dict_with_other_tensors_is_refused(tmp_path, monkeypatch):
    import mmzoo.backbones.efficientnet_lite as module

    if BACKBONE.weights_file.location() is None:
        pytest.skip(f"the weights package is missing: {BACKBONE.weights_file.install_hint()}")
    real = module.load_legacy_state_dict(BACKBONE.weights_file.path())
    model = BACKBONE.build_model(BACKBONE.spec(height=32, width=32))
    for state, message in (({**real, "_extra.weight": np.zeros(1)}, "does not use.*_extra"),
                           ({k: v for k, v in real.items() if k != "_bn1.bias"}, "no tensor _bn1.bias")):
        monkeypatch.setattr(module, "load_legacy_state_dict", lambda path, state=state: state)
        with pytest.raises(ValueError, match=message):
            BACKBONE.load_pretrained(model, tmp_path / "x.pth")
