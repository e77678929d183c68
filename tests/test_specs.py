"""The data contract: specs validate, round-trip their config and shape the inputs."""

import json

import pytest

from mmzoo.specs import AudioSpec, ImageSpec, TextSpec, presence_key, spec_from_config


@pytest.mark.parametrize("spec", [
    TextSpec(vocabulary_size=10, sequence_length=4, vocabulary=("a", "b")),
    ImageSpec(20, 30, 1, background=0.0),
    AudioSpec(sample_rate=8000, clip_seconds=0.25, num_mel_bins=20, fmax=3000.0),
])
def test_config_round_trip_through_json(spec):
    config = json.loads(json.dumps(spec.get_config()))
    assert spec_from_config(spec.modality, config) == spec


def test_keras_inputs_are_named_after_the_modality():
    assert ImageSpec(20, 30, 1).keras_input().shape == (None, 20, 30, 1)
    assert TextSpec(sequence_length=7).keras_input().dtype == "int32"
    assert AudioSpec(8000, 0.5).keras_input().name == "audio"
    assert presence_key("audio") == "audio_present"


def test_audio_frames_follow_the_centered_stft():
    spec = AudioSpec(sample_rate=16000, clip_seconds=1.0, hop_length=160)
    assert (spec.num_samples, spec.num_frames) == (16000, 101)


@pytest.mark.parametrize("build,message", [
    (lambda: TextSpec(vocabulary_size=2), r"TextSpec.vocabulary_size=2 is invalid"),
    (lambda: TextSpec(vocabulary_size=4, vocabulary=("a", "b", "c")),
     r"TextSpec.vocabulary=.* holds more tokens than vocabulary_size - 2 = 2"),
    (lambda: ImageSpec(0, 10), r"ImageSpec.height=0 is invalid"),
    (lambda: ImageSpec(10, 10, 4), r"ImageSpec.channels=4 is invalid: use 1 \(grayscale\) or 3"),
    (lambda: AudioSpec(sample_rate=8000, fmax=5000.0), r"AudioSpec.fmax=5000.0 is invalid"),
    (lambda: AudioSpec(sample_rate=8000, clip_seconds=0.01), r"AudioSpec.clip_seconds=0.01"),
])
def test_invalid_specs_name_the_field(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_unknown_config_fields_are_named():
    with pytest.raises(ValueError, match=r"TextSpec config has unknown fields \['max_tokens'\]"):
        spec_from_config("text", {"max_tokens": 5})
