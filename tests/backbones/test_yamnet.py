"""The yamnet backbone against independent references: the recipe's float frontend written
with ``tf.signal.stft``, the TFLite file run by ``tf.lite.Interpreter``, and the AudioSet
classes of real recordings (speech, sheep, a vacuum cleaner...)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks.references import yamnet_parity
from mmzoo.backbones import backbone_spec, base, get_backbone
from mmzoo.backbones.convert import safetensors_bytes
from mmzoo.backbones.yamnet import (
    BACKBONE,
    YamnetFrontend,
    audioset_class_names,
    log_mel_scores_model,
    num_patches,
    patch_scores_model,
)
from mmzoo.preprocessing.audio import read_audio_files
from mmzoo.specs import AudioSpec


@pytest.fixture(scope="module")
def source():
    """The TFLite file; the tests comparing against it skip with the reason without it."""
    try:
        return BACKBONE.source_file.path()
    except FileNotFoundError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def encoder():
    return BACKBONE.encoder(BACKBONE.spec())


@pytest.fixture(scope="module")
def clips(data_dir):
    """Real windows: 7 narrations, 7 sound effects and 6 FSDD digits (15,600 samples each)."""
    sets = yamnet_parity.clip_paths(data_dir, 150)
    paths = [path for name, count in zip(yamnet_parity.SETS, (7, 7, 6))
             for path in sets[name][::len(sets[name]) // count][:count]]
    return yamnet_parity.windows(paths)


def recipe_padding(samples):
    """The recipe's pad_waveform, in seconds: silence up to one patch plus whole hops."""
    minimum, hop = int(round((0.96 + 0.025 - 0.010) * 16000)), int(0.48 * 16000)
    hops = int(np.ceil(max(0, samples - minimum) / hop))
    return minimum + hops * hop - samples


def recipe_log_mel_patches(waveforms):
    """The recipe's features, written independently: pad_waveform, then tf.signal.stft,
    the mel matrix, log(mel + 0.001) and tf.signal.frame."""
    padded = np.pad(waveforms, [(0, 0), (0, recipe_padding(waveforms.shape[-1]))])
    magnitude = tf.abs(tf.signal.stft(padded, frame_length=400, frame_step=160, fft_length=512))
    mel = tf.matmul(magnitude, tf.signal.linear_to_mel_weight_matrix(64, 257, 16000, 125.0, 7500.0))
    return tf.signal.frame(tf.math.log(mel + 0.001), 96, 48, axis=1).numpy()


def recipe_windows(waveforms):
    """The recipe's patches of whole clips as 0.975-s windows, one every 7,680 samples."""
    padded = np.pad(waveforms, [(0, 0), (0, recipe_padding(waveforms.shape[-1]))])
    return [padded[:, start:start + 15600] for start in range(0, padded.shape[1] - 15599, 7680)]


def test_spec_is_the_recipe_and_only_clip_seconds_is_free():
    spec = backbone_spec("yamnet")
    assert (spec.sample_rate, spec.num_samples, spec.num_mel_bins, spec.fmin, spec.fmax,
            spec.hop_length, spec.backbone) == (16000, 15600, 64, 125.0, 7500.0, 160, "yamnet")
    assert BACKBONE.spec(clip_seconds=0.1).num_samples == 1600  # AudioSpec accepts it
    with pytest.raises(ValueError, match="AudioSpec.sample_rate"):
        BACKBONE.spec(sample_rate=8000)
    with pytest.raises(ValueError, match="AudioSpec.fmin=125.0, not 0.0"):
        BACKBONE.check_spec(AudioSpec(clip_seconds=0.975, backbone="yamnet"))
    assert get_backbone("yamnet") is BACKBONE


@pytest.mark.parametrize("samples", [1600, 15600, 15601, 40000])
def test_frontend_is_the_recipe_in_float(samples):
    waveforms = np.random.default_rng(samples).uniform(-1, 1, (2, samples)).astype(np.float32)
    expected = recipe_log_mel_patches(waveforms)
    assert expected.shape[1] == num_patches(samples)
    np.testing.assert_allclose(YamnetFrontend()(waveforms).numpy(), expected, atol=2e-5)


def test_frontend_needs_a_static_clip_length():
    with pytest.raises(ValueError, match="static number of samples"):
        YamnetFrontend()(keras.Input((None,)))


def test_converter_is_deterministic_and_gives_the_shipped_file(source):
    tensors = BACKBONE.convert(source)
    metadata = {"source": BACKBONE.source_file.filename, "source_sha256": BACKBONE.source_file.sha256,
                "attribution": BACKBONE.attribution}
    data = safetensors_bytes(tensors, metadata)
    assert data == safetensors_bytes(BACKBONE.convert(source), dict(reversed(metadata.items())))
    assert base.sha256_of(BACKBONE.weights_file.path()) == BACKBONE.weights_file.sha256
    assert BACKBONE.weights_file.path().read_bytes() == data
    assert tensors["layer14_pointwise_conv/kernel"].dtype == np.int8
    assert sum(t.nbytes for t in tensors.values()) < 20e6


def test_scores_agree_with_the_tflite_interpreter(source, encoder, clips):
    """Measured on 434 clips (docs/guides/backbones-audio.md): top-1 agreement 0.935 from
    the waveform (the file's int8 frontend is the gap), 0.998 from the file's own log-mel."""
    reference, log_mels = yamnet_parity.tflite_outputs(source, clips)
    from_waveform = patch_scores_model(encoder)(clips).numpy()[:, 0]
    from_log_mel = log_mel_scores_model(encoder)(log_mels).numpy()
    waveform = yamnet_parity.agreement(reference, from_waveform)
    body = yamnet_parity.agreement(reference, from_log_mel)
    assert waveform["top1"] >= 0.85 and waveform["mean_abs"] < 3e-3, waveform
    assert body["top1"] >= 0.95 and body["max_abs"] < 0.1 and body["mean_abs"] < 3e-4, body


@pytest.fixture(scope="module")
def long_clip_scores():
    """Per-patch AudioSet scores of 7-second clips (14 patches)."""
    spec = BACKBONE.spec(clip_seconds=7.0)
    return spec, patch_scores_model(BACKBONE.encoder(spec))


@pytest.mark.parametrize("relative, label", [
    ("food/fruit/apple_granny_smith_desc_fr.ogg", "Speech"),
    ("space/planets/7_uranus_desc_fr.ogg", "Speech"),
    ("animals/mammals/bovines/sheep.ogg", "Sheep"),
    ("animals/birds/lark.ogg", "Bird"),
    ("household/vacuum_cleaner.ogg", "Vacuum cleaner"),
    ("household/toilet.ogg", "Toilet flush"),
    ("military/final-roll-call.ogg", "Trumpet"),
])
def test_top_audioset_class_of_real_recordings(data_dir, source, long_clip_scores, relative,
                                               label):
    """As the recipe scores a file: the mean of the scores of its patches."""
    spec, model = long_clip_scores
    path = data_dir / "stamps" / relative
    clip, errors = read_audio_files([str(path)], spec)
    assert not errors[0]
    patches = num_patches(int(np.flatnonzero(clip[0]).max()) + 1)  # those of the file
    scores = model(clip).numpy()[0, :patches].mean(0)
    assert audioset_class_names()[scores.argmax()] == label


@pytest.mark.parametrize("seconds", [0.5, 2.0])
def test_other_clip_lengths_average_the_recipe_patches(encoder, seconds):
    spec = BACKBONE.spec(clip_seconds=seconds)
    model = BACKBONE.encoder(spec)
    waveforms = np.random.default_rng(0).uniform(-0.5, 0.5, (2, spec.num_samples)).astype("f4")
    windows = recipe_windows(waveforms)
    expected = np.mean([encoder(window).numpy() for window in windows], axis=0)
    assert model.output.shape == (None, 1024)
    np.testing.assert_allclose(model(waveforms).numpy(), expected, atol=1e-5)


def test_the_mean_leaves_out_the_patches_of_padding_only(encoder):
    """A 1.25-s sound padded to 1.5 s or 3 s: the mean over the recipe's patches of the
    sound alone (2 of 3 or 6); a clip of silence gets the embedding of silence."""
    sound = np.random.default_rng(2).uniform(-0.5, 0.5, (1, 20000)).astype("f4")
    expected = np.mean([encoder(window).numpy() for window in recipe_windows(sound)], axis=0)
    for seconds in (1.5, 3.0):
        spec = BACKBONE.spec(clip_seconds=seconds)
        clips = np.zeros((2, spec.num_samples), "f4")
        clips[0, :20000] = sound[0]
        embeddings = BACKBONE.encoder(spec)(clips).numpy()
        np.testing.assert_allclose(embeddings[:1], expected, atol=1e-5)
        np.testing.assert_allclose(embeddings[1:], encoder(clips[:1, :15600] * 0), atol=1e-5)


def _trainable_names(model):
    return {w.path.split("/")[0] for w in model.trainable_weights}


def test_encoder_weights_trainable_and_unfreeze_top(encoder):
    spec = BACKBONE.spec()
    assert encoder.trainable_weights == [] and len(BACKBONE.blocks(encoder)) == 14
    assert [layer.name for layer in BACKBONE.blocks(encoder)[0]] == [
        "layer1_conv", "layer1_conv_bn", "layer1_conv_relu"]

    scratch = BACKBONE.encoder(spec, weights=None)
    assert "layer5_pointwise_conv_bn" in _trainable_names(scratch)
    assert not np.allclose(scratch.get_layer("layer1_conv").kernel.numpy(),
                           encoder.get_layer("layer1_conv").kernel.numpy())

    tuned = BACKBONE.encoder(spec, trainable=True)
    names = _trainable_names(tuned)
    assert "layer1_conv" in names and not any(name.endswith("_bn") for name in names)

    top = BACKBONE.encoder(spec, unfreeze_top=2)
    assert _trainable_names(top) == {"layer13_depthwise_conv", "layer13_pointwise_conv",
                                     "layer14_depthwise_conv", "layer14_pointwise_conv"}
    with pytest.raises(ValueError, match="unfreeze_top=15 is out of range"):
        BACKBONE.encoder(spec, unfreeze_top=15)


def test_clone_and_weights_file_round_trip(encoder, tmp_path):
    waveforms = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 15600)).astype("f4")
    expected = encoder(waveforms).numpy()
    clone = keras.models.clone_model(encoder)
    clone.set_weights(encoder.get_weights())
    np.testing.assert_allclose(clone(waveforms).numpy(), expected, atol=1e-6)
    path = tmp_path / "yamnet.weights.h5"
    encoder.save_weights(path)
    reloaded = BACKBONE.encoder(BACKBONE.spec(), weights=str(path))
    np.testing.assert_allclose(reloaded(waveforms).numpy(), expected, atol=1e-6)


def test_missing_or_damaged_weights_say_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "SHIPPED_DIR", tmp_path)
    with pytest.raises(FileNotFoundError) as missing:
        BACKBONE.encoder(BACKBONE.spec())
    assert "\n" not in str(missing.value) and "reinstall mmzoo" in str(missing.value)
    (tmp_path / "yamnet.safetensors").write_bytes(b"not weights")
    with pytest.raises(ValueError, match="is damaged or another version"):
        BACKBONE.encoder(BACKBONE.spec())
