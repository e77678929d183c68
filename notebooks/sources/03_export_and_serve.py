# %% [markdown]
# # Export a SavedModel and call it the way TF Serving does
#
# `mmzoo.export_saved_model` writes a model for [TF Serving](https://www.tensorflow.org/tfx/guide/serving):
# a SavedModel whose default signature takes what a client has (a string, the bytes of an image
# file, the bytes of a WAV file) and answers with class probabilities and names. Decoding and
# preprocessing are inside the graph, so the server runs no Python and no mmzoo.
#
# This notebook:
#
# 1. exports the zoo preset `attention_small_stamps` (text + image + audio, 16 clip-art
#    categories) into the versioned folder layout TF Serving watches;
# 2. lists the SavedModel's signatures, as `saved_model_cli show --all` would;
# 3. builds a **REST** request body with `mmzoo.serving.rest_request`, decodes it as TF Serving's
#    JSON layer does and feeds it to the `serving_default` signature of a freshly loaded
#    SavedModel; the answer matches the Keras model's;
# 4. builds the **gRPC** `PredictRequest` with `mmzoo.serving.predict_request` and feeds its
#    tensors to the signature the same way.
#
# No server and no network are needed: the requests are built and fed to the SavedModel in this
# process. Everything is written to a temporary folder.

# %%
import os

# Quiet TensorFlow's C++ logging: set before TensorFlow (or mmzoo) is first imported.
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

import base64
import json
import pathlib
import tempfile
import warnings

import cv2  # only to draw the example images
import numpy as np
import soundfile  # only to write the example WAV files
import tensorflow as tf

import mmzoo
from mmzoo.serving import predict_request, rest_request

# librosa (log-mel filterbank) imports tqdm.auto, which warns in a kernel without ipywidgets.
warnings.filterwarnings("ignore", message="IProgress not found")
# In an interactive session TensorFlow logs at INFO level ("Assets written to: ..." on export).
tf.get_logger().setLevel("WARNING")
workdir_handle = tempfile.TemporaryDirectory(prefix="mmzoo-serving-")
workdir = pathlib.Path(workdir_handle.name)  # everything this notebook writes goes here
PRESET = "attention_small_stamps"
print(mmzoo.preset_info(PRESET)["description"])

# %% [markdown]
# ## 1. Export
#
# `export_saved_model` takes a model made by mmzoo with its `Preprocessor` and class names, or
# (as here) a preset name, whose preprocessor and class names come with it. It writes
# `<base_dir>/<version>/` (the next free version by default) into a hidden temporary folder first
# and renames it when complete, so a server watching `base_dir` never loads a half-written model.

# %%
base_dir = workdir / "serving" / "stamps"   # --model_base_path of tensorflow_model_server
version_dir = mmzoo.export_saved_model(PRESET, base_dir)
print("exported:", version_dir.relative_to(workdir))
for path in sorted(version_dir.rglob("*")):
    if path.is_file():
        print("  ", path.relative_to(base_dir))
print("class names:", mmzoo.preset_info(PRESET)["class_names"])

# %% [markdown]
# A server would be started with
# `tensorflow_model_server --rest_api_port=8501 --port=8500 --model_name=stamps --model_base_path=<base_dir>`
# (or the `tensorflow/serving` Docker image). It replays `assets.extra/tf_serving_warmup_requests`
# when it loads a version, so the first client does not wait for the graph's first run.
#
# ## 2. The signatures
#
# What `saved_model_cli show --dir <version_dir> --all` prints, read from the loaded SavedModel:
# every signature with its inputs and outputs (`-1`: any batch size).

# %%
loaded = tf.saved_model.load(str(version_dir))  # what TF Serving loads: no mmzoo involved


def show(spec):
    return f"{spec.dtype.name:8s} {tuple(-1 if d is None else d for d in spec.shape)}"


for name, function in sorted(loaded.signatures.items()):
    print(f"signature_def[{name!r}]:")
    for key, spec in sorted(function.structured_input_signature[1].items()):
        print(f"    input   {key:18s} {show(spec)}")
    for key, spec in sorted(function.structured_outputs.items()):
        print(f"    output  {key:18s} {show(spec)}")

warmup = tf.data.TFRecordDataset(str(version_dir / "assets.extra" / "tf_serving_warmup_requests"))
print("warm-up requests:", sum(1 for _ in warmup))


# %% [markdown]
# ## 3. Three examples from a client
#
# A client sends raw content: a text, the bytes of an image file (JPEG, PNG, GIF or BMP, any
# size), the bytes of a WAV file (16-bit PCM, any sample rate, mono or stereo). An **empty** value
# means that modality is absent for that example; every input must still be named.

# %%
def png_bytes(draw) -> bytes:
    canvas = np.full((90, 120, 3), 255, np.uint8)  # white, 120x90: the export resizes it
    draw(canvas)
    return cv2.imencode(".png", canvas)[1].tobytes()


def wav_bytes(pitch: float, rate: int = 22050, seconds: float = 1.5) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    stereo = np.stack([0.3 * np.sin(2 * np.pi * pitch * t)] * 2, axis=-1)  # 2 channels
    path = workdir / f"tone-{pitch:.0f}.wav"
    soundfile.write(path, stereo.astype("float32"), rate, subtype="PCM_16")
    return path.read_bytes()


apple = png_bytes(lambda c: (cv2.circle(c, (60, 50), 30, (40, 40, 220), -1),       # OpenCV: BGR
                             cv2.line(c, (60, 20), (70, 8), (40, 140, 40), 4)))
truck = png_bytes(lambda c: (cv2.rectangle(c, (15, 30), (105, 65), (200, 90, 30), -1),
                             cv2.circle(c, (35, 70), 10, (0, 0, 0), -1),
                             cv2.circle(c, (85, 70), 10, (0, 0, 0), -1)))
examples = {
    "text": ["a red apple", "a big blue truck", "a snowman with a hat"],
    "image": [apple, truck, b""],                       # no image for the third example
    "audio": [wav_bytes(440.0), b"", wav_bytes(220.0)],  # no audio for the second
}
print({name: [len(v) for v in values] for name, values in examples.items()}, "(characters/bytes)")

# %% [markdown]
# ## 4. REST
#
# `rest_request` builds the JSON body of `POST http://<host>:8501/v1/models/stamps:predict` in
# TF Serving's row format: one object per example, text as a JSON string, binary content as
# `{"b64": ...}`.

# %%
body = rest_request(text=examples["text"], image_bytes=examples["image"],
                    audio_bytes=examples["audio"])
body_json = json.dumps(body)  # what requests.post(url, json=body) sends
print(f"{len(body_json):,} bytes of JSON; signature {body['signature_name']!r}; first instance:")
print(json.dumps({name: (value if isinstance(value, str)
                         else {"b64": value["b64"][:24] + "..."})
                  for name, value in body["instances"][0].items()}, indent=1))


# %% [markdown]
# TF Serving turns the instances into one tensor per input (its `json_tensor` layer): the rows are
# stacked, a JSON string becomes its UTF-8 bytes and a `{"b64": ...}` object its decoded bytes.
# The function below does the same, and the result feeds the `serving_default` signature of a
# freshly loaded SavedModel. The answer is laid out as TF Serving's, one object per example.

# %%
def decode_instances(body: dict, input_specs: dict) -> dict[str, tf.Tensor]:
    """TF Serving's row format to tensors: every instance names every input."""
    columns = {name: [] for name in input_specs}
    for instance in body["instances"]:
        if set(instance) != set(input_specs):
            raise ValueError(f"an instance names {sorted(instance)}, the signature takes "
                             f"{sorted(input_specs)}")
        for name, value in instance.items():
            value = (base64.b64decode(value["b64"]) if isinstance(value, dict)
                     else value.encode("utf-8"))
            columns[name].append(value)
    return {name: tf.constant(values, dtype=input_specs[name].dtype)
            for name, values in columns.items()}


serve = tf.saved_model.load(str(version_dir)).signatures[body["signature_name"]]
outputs = serve(**decode_instances(json.loads(body_json), serve.structured_input_signature[1]))


def as_json(value):
    """One example's output as TF Serving's JSON has it (numbers rounded here for display)."""
    value = value.numpy()
    if isinstance(value, bytes):
        return value.decode()
    return value.item() if value.ndim == 0 else [round(x, 3) for x in value.tolist()]


response = {"predictions": [{name: as_json(value[i]) for name, value in sorted(outputs.items())
                             if name != "logits"}
                            for i in range(len(body["instances"]))]}
print("the response's first prediction:", json.dumps(response["predictions"][0]), "\n")
for text, prediction in zip(examples["text"], response["predictions"]):
    top = int(np.argmax(prediction["probabilities"]))
    print(f"{text!r:24}: {prediction['class_names']:10s} p={prediction['probabilities'][top]:.2f}"
          f"  modality weights (text, image, audio) {prediction['modality_weights']}")

# %% [markdown]
# Serving preprocesses with the same `Preprocessor` code as training, so the SavedModel's answer
# is the Keras model's, up to float rounding:

# %%
model = mmzoo.from_preset(PRESET)
preprocessor = mmzoo.load_preprocessor(PRESET)
features = preprocessor({name: tf.constant(values) for name, values in examples.items()})
expected = model.predict(features, verbose=0)
print("largest difference, served vs Keras:",
      float(np.abs(outputs["probabilities"].numpy() - expected).max()))

# %% [markdown]
# ## 5. gRPC
#
# `predict_request` builds the `tensorflow_serving.apis.predict_pb2.PredictRequest` that a
# `PredictionServiceStub(grpc.insecure_channel("<host>:8500")).Predict(request, timeout=10.0)`
# call sends: the model's name (the server's `--model_name`), optionally a version, the signature,
# and one string tensor per input.

# %%
request = predict_request("stamps", text=examples["text"], image_bytes=examples["image"],
                          audio_bytes=examples["audio"], version=1)
print(f"model_spec: name={request.model_spec.name!r} "
      f"signature_name={request.model_spec.signature_name!r} "
      f"version={request.model_spec.version.value}")
for name, proto in sorted(request.inputs.items()):
    print(f"inputs[{name!r}]: {tf.dtypes.as_dtype(proto.dtype).name}, "
          f"shape {[d.size for d in proto.tensor_shape.dim]}")
print(f"{request.ByteSize():,} bytes on the wire")

# The server turns each TensorProto into a tensor and runs the signature the request names.
grpc_outputs = loaded.signatures[request.model_spec.signature_name](
    **{name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()})
print("class names:", [name.decode() for name in grpc_outputs["class_names"].numpy()])
print("same as the REST answer:",
      np.array_equal(grpc_outputs["probabilities"].numpy(), outputs["probabilities"].numpy()))

# %%
workdir_handle.cleanup()  # remove everything this notebook wrote
print("removed the temporary folder:", not workdir.exists())
