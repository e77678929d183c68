"""``mmzoo.serving``: REST and gRPC requests, decoded as TF Serving does, fed to the signature."""

from __future__ import annotations

import base64
import json

import pytest
import tensorflow as tf

from mmzoo.serving import predict_request, rest_request
from tests.export.conftest import assert_outputs_match

EXPORT = "gated_tiny"


@pytest.fixture(scope="module")
def signature(exports):
    return tf.saved_model.load(str(exports[EXPORT].path)).signatures["serving_default"]


def decode_rest_instances(body: dict, input_specs: dict) -> dict[str, tf.Tensor]:
    """TF Serving's row format (json_tensor.cc): each instance names every input; a JSON
    string is its UTF-8 bytes, ``{"b64": ...}`` is base64-decoded binary; rows are stacked."""
    columns = {name: [] for name in input_specs}
    for instance in body["instances"]:
        assert set(instance) == set(input_specs), "every instance must name every input"
        for name, value in instance.items():
            if isinstance(value, dict):
                assert list(value) == ["b64"]
                value = base64.b64decode(value["b64"], validate=True)
            else:
                value = value.encode("utf-8")
            columns[name].append(value)
    return {name: tf.constant(values, dtype=input_specs[name].dtype)
            for name, values in columns.items()}


def test_rest_request_feeds_the_raw_signature(signature, raw, references):
    body = json.loads(json.dumps(rest_request(
        text=raw["text"], image_bytes=raw["image"], audio_bytes=raw["audio"])))
    assert body["signature_name"] == "serving_default"
    inputs = decode_rest_instances(body, signature.structured_input_signature[1])
    assert_outputs_match(signature(**inputs), references[EXPORT]["outputs"])


def test_rest_request_of_one_example(signature, raw, references):
    body = rest_request(text=raw["text"][2], image_bytes=b"", audio_bytes=raw["audio"][2])
    assert body["instances"] == [{"text": raw["text"][2], "image": {"b64": ""},
                                  "audio": {"b64": base64.b64encode(raw["audio"][2]).decode()}}]
    outputs = signature(**decode_rest_instances(body, signature.structured_input_signature[1]))
    assert outputs["probabilities"].shape == (1, 4)


def test_predict_request_matches_the_signature_and_feeds_it(signature, raw, references):
    request = predict_request("birds", text=raw["text"], image_bytes=raw["image"],
                              audio_bytes=raw["audio"], version=3)
    assert (request.model_spec.name, request.model_spec.signature_name,
            request.model_spec.version.value) == ("birds", "serving_default", 3)
    specs = signature.structured_input_signature[1]
    assert set(request.inputs) == set(specs)
    for name, proto in request.inputs.items():
        assert proto.dtype == specs[name].dtype.as_datatype_enum
        assert [d.size for d in proto.tensor_shape.dim] == [len(raw[name])]
    inputs = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
    assert_outputs_match(signature(**inputs), references[EXPORT]["outputs"])


def test_predict_request_round_trips_through_its_wire_format():
    request = predict_request("birds", text="a red frog", image_bytes=b"\x89PNG\x00\x00")
    parsed = type(request).FromString(request.SerializeToString())
    assert tf.make_ndarray(parsed.inputs["image"]).tolist() == [b"\x89PNG\x00\x00"]
    assert tf.make_ndarray(parsed.inputs["text"]).tolist() == [b"a red frog"]
    assert not parsed.model_spec.HasField("version")


@pytest.mark.parametrize("arguments, error, message", [
    ({}, ValueError, "at least one input"),
    ({"text": ["a", "b"], "image_bytes": [b""]}, ValueError, "one value per example"),
    ({"image_bytes": "a path.png"}, TypeError, "image takes bytes"),
    ({"text": [b"bytes"]}, TypeError, "text takes str"),
])
def test_bad_requests_are_explained(arguments, error, message):
    for build in (rest_request, lambda **kw: predict_request("birds", **kw)):
        with pytest.raises(error, match=message):
            build(**arguments)

