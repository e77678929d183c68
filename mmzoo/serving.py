"""Requests for a model served by TF Serving: the REST JSON body and the gRPC ``PredictRequest``.

Both carry raw inputs for the ``serving_default`` signature of
:func:`mmzoo.export_saved_model`: ``text`` as strings, ``image`` and ``audio`` as the
bytes of an encoded image (JPEG, PNG, GIF, BMP) and of a WAV file. Pass every input
the model takes; an empty value marks that modality absent in that example. Each
argument is one example's value or a list of them (a batch). Text is sent as UTF-8
(:func:`mmzoo.utils.utf8_bytes`: a lone surrogate becomes U+FFFD).

Example:
    >>> body = rest_request(text="a red frog", image_bytes=b"", audio_bytes=b"RIFF...")
    >>> body["instances"][0]["image"]
    {'b64': ''}
    >>> requests.post("http://localhost:8501/v1/models/birds:predict", json=body)  # doctest: +SKIP
"""

from __future__ import annotations

import base64

from mmzoo.utils import utf8_bytes

DEFAULT_SIGNATURE = "serving_default"


def rest_request(text=None, image_bytes=None, audio_bytes=None, *,
                 signature_name: str = DEFAULT_SIGNATURE) -> dict:
    """The JSON body of a TF Serving REST predict request, in the row ("instances") format.

    Text goes as a JSON string, image and audio bytes as ``{"b64": ...}`` objects
    (TF Serving base64-decodes those into string tensors).

    Example:
        >>> body = rest_request(text=["a frog", ""], audio_bytes=[b"RIFF", b""])
        >>> second = body["instances"].pop()
        >>> second
        {'text': '', 'audio': {'b64': ''}}
    """
    columns = _columns(text, image_bytes, audio_bytes)
    encoded = {name: [{"b64": base64.b64encode(value).decode("ascii")} if isinstance(value, bytes)
                      else utf8_bytes(value).decode("utf-8") for value in values]
               for name, values in columns.items()}
    count = len(next(iter(columns.values())))
    instances = [{name: values[i] for name, values in encoded.items()} for i in range(count)]
    return {"signature_name": signature_name, "instances": instances}


def predict_request(model_name: str, text=None, image_bytes=None, audio_bytes=None, *,
                    signature_name: str = DEFAULT_SIGNATURE, version: int | None = None):
    """A ``tensorflow_serving.apis.predict_pb2.PredictRequest`` for TF Serving's gRPC API.

    ``model_name`` is the server's ``--model_name``; ``version`` pins one version.

    Example:
        >>> request = predict_request("birds", text="a red frog", image_bytes=png)  # doctest: +SKIP
        >>> stub.Predict(request, timeout=10.0)  # doctest: +SKIP
    """
    return predict_request_of_columns(model_name, _columns(text, image_bytes, audio_bytes),
                                      signature_name=signature_name, version=version)


def predict_request_of_columns(model_name: str, columns: dict, *,
                               signature_name: str = DEFAULT_SIGNATURE, version: int | None = None):
    """:func:`predict_request` for inputs given by name, each a list of one ``str`` or
    ``bytes`` value per example (any modality, a registered one too)."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    for name, values in columns.items():
        values = [utf8_bytes(v) if isinstance(v, str) else v for v in values]
        request.inputs[name].CopyFrom(tf.make_tensor_proto(values, dtype=tf.string,
                                                           shape=[len(values)]))
    return request


def _columns(text, image_bytes, audio_bytes) -> dict[str, list]:
    """The given inputs by signature name, each a list of one value per example."""
    given = {name: value for name, value in (("text", text), ("image", image_bytes),
                                             ("audio", audio_bytes)) if value is not None}
    if not given:
        raise ValueError("a request needs at least one input: pass text=, image_bytes= and/or "
                         "audio_bytes= (every input the model takes; empty marks one absent).")
    columns = {}
    for name, value in given.items():
        values = [value] if isinstance(value, (str, bytes)) else list(value)
        kind = str if name == "text" else bytes
        wrong = [type(v).__name__ for v in values if not isinstance(v, kind)]
        if wrong:
            raise TypeError(f"{name} takes {kind.__name__} values (one per example), got "
                            f"{sorted(set(wrong))}.")
        columns[name] = values
    sizes = {name: len(values) for name, values in columns.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"every input needs one value per example, got {sizes}.")
    return columns
