# %% [markdown]
# # Writing your own fusion layer
#
# mmzoo's fusion methods (`concat`, `weighted_sum`, `gated`, `attention`, `transformer`, `tensor`,
# `low_rank`) are Keras layers behind one small contract, and `mmzoo.register_fusion` adds yours
# to the catalogue, so that every builder takes it **by name**. This notebook:
#
# 1. reads the contract and writes a new fusion, a *masked mean*: each modality projected to a
#    common width, then averaged over the modalities present in each example;
# 2. registers it and builds a classifier with `fusion="masked_mean"`;
# 3. checks the contract: the fused output ignores an absent modality's input, and the
#    per-example modality weights are exposed like the catalogue's;
# 4. trains the model briefly on in-memory data, with modalities missing at random;
# 5. saves it to a `.keras` file and loads it back.
#
# Everything is tiny and runs in seconds; the only file written goes to a temporary folder.

# %%
import os

# Quiet TensorFlow's C++ logging: set before TensorFlow (or mmzoo) is first imported.
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

import inspect
import pathlib
import tempfile
import warnings

import keras
import numpy as np
from keras import layers, ops

import mmzoo
from mmzoo.fusion import FusionLayer, get_fusion, masked_softmax

# librosa (log-mel filterbank) imports tqdm.auto, which warns in a kernel without ipywidgets.
warnings.filterwarnings("ignore", message="IProgress not found")
keras.utils.set_random_seed(0)  # the same numbers on every run
workdir_handle = tempfile.TemporaryDirectory(prefix="mmzoo-fusion-")
workdir = pathlib.Path(workdir_handle.name)
print("fusions:", mmzoo.list_fusions())

# %% [markdown]
# ## 1. The contract
#
# A fusion layer is called as `layer(embeddings, presence=presence)`:
#
# - `embeddings`: a list with one `(batch, dim_i)` tensor per modality, in the order text, image,
#   audio (of those the model has). An absent modality's embedding has already been replaced by a
#   learned "missing" vector (`MissingModalityEmbedding`), so any fusion is safe;
# - `presence`: a `(batch, modalities)` matrix of 1.0 (present) / 0.0 (absent) flags, for fusions
#   that should also *ignore* absent modalities;
# - it returns one `(batch, features)` tensor, or `(fused, modality_weights)` when the class says
#   `computes_modality_weights = True` and the builder asks for weights (`return_weights=True`,
#   which `FusionLayer._output` handles).
#
# The base class, and `masked_softmax`, which the weighing fusions use to give absent modalities
# zero weight:

# %%
print(inspect.getsource(FusionLayer))
print(inspect.getsource(masked_softmax))


# %% [markdown]
# ## 2. A masked-mean fusion
#
# Each modality gets its own `Dense` projection to `units` features; the output is their mean over
# the modalities **present** in each example. Those uniform weights (1/2 each with two modalities
# present, 1 for a lone modality) are the layer's modality weights: `masked_softmax` of equal
# scores gives exactly that, and falls back to uniform weights where nothing is present.
#
# `@mmzoo.register_fusion("masked_mean")` puts the class in the catalogue and registers it as a
# Keras serializable (package `mmzoo_user`), so saved models find it again. Like any Keras layer,
# it needs a `get_config` with its constructor arguments.

# %%
@mmzoo.register_fusion("masked_mean")
class MaskedMeanFusion(FusionLayer):
    """Projects each modality to ``units`` and averages over the modalities present."""

    computes_modality_weights = True  # the builders may ask for (fused, weights)

    def __init__(self, units=32, return_weights=False, **kwargs):
        super().__init__(return_weights=return_weights, **kwargs)
        self.units = units

    def build(self, input_shape):  # input_shape: one shape per modality
        self.projections = []
        for i, shape in enumerate(input_shape):
            projection = layers.Dense(self.units, activation="relu", name=f"projection_{i}")
            projection.build(shape)
            self.projections.append(projection)

    def call(self, inputs, presence=None):
        projected = ops.stack([p(x) for p, x in zip(self.projections, inputs)], axis=1)
        if presence is None:  # called without flags: every modality is present
            presence = ops.ones(ops.shape(projected)[:2])
        # Equal scores, softmax over the present modalities: 1 / (number present), 0 if absent.
        weights = masked_softmax(ops.zeros_like(presence), presence)
        fused = ops.sum(projected * ops.expand_dims(ops.cast(weights, projected.dtype), -1),
                        axis=1)
        return self._output(fused, weights)  # fused, or (fused, weights) with return_weights

    def get_config(self):
        return {**super().get_config(), "units": self.units}


print("fusions:", mmzoo.list_fusions())
print(get_fusion("masked_mean", units=8))

# %% [markdown]
# The layer alone, on two modalities of a batch of three examples, the second example without
# its second modality and the third without its first:

# %%
layer = MaskedMeanFusion(units=4, return_weights=True)
embeddings = [np.random.default_rng(0).normal(size=(3, 5)).astype("float32"),
              np.random.default_rng(1).normal(size=(3, 7)).astype("float32")]
presence = np.array([[1, 1], [1, 0], [0, 1]], "float32")
fused, weights = layer(embeddings, presence=presence)
print("fused:", tuple(fused.shape))
print("weights:\n", keras.ops.convert_to_numpy(weights))

# %% [markdown]
# ## 3. A classifier with it, by name
#
# Every builder takes the registered name, alone or with options:
# `mmzoo.build_classifier(..., fusion="masked_mean")`, or `fusion={"name": "masked_mean",
# "units": 16}`, or `mmzoo.create_model(...)` with the same override. Here: the `tiny`
# architecture (LeNet image and audio encoders) on images and audio only, three classes.

# %%
model = mmzoo.create_model("concat_tiny", modalities=("image", "audio"),
                           fusion={"name": "masked_mean", "units": 16}, num_classes=3,
                           name="masked_mean_tiny")
print(type(model.get_layer("fusion")).__name__, "|", f"{model.count_params():,} parameters")
print("inputs:", {t.name: tuple(t.shape) for t in model.inputs})

# %% [markdown]
# ## 4. Data with missing modalities, and the contract checked
#
# In-memory data: an image is a noisy canvas of its class's colour, an audio clip a noisy tone
# of its class's pitch. In a quarter of the examples one modality (chosen at random) is absent:
# its presence flag is 0 and its input holds zeros.

# %%
specs = mmzoo.models.model_config("concat_tiny")  # the specs the tiny architecture uses
image_spec, audio_spec = specs["image"], specs["audio"]
COLOURS = np.array([[40, 160, 40], [230, 190, 20], [30, 80, 200]], "float32")
PITCHES = np.array([300.0, 900.0, 2000.0])
rng = np.random.default_rng(0)


def make_data(count: int):
    labels = rng.integers(0, 3, count)
    images = COLOURS[labels][:, None, None, :] + rng.normal(0, 40, (count, *image_spec.shape))
    t = np.arange(audio_spec.num_samples) / audio_spec.sample_rate
    audio = (0.5 * np.sin(2 * np.pi * PITCHES[labels][:, None] * t)
             + rng.normal(0, 0.1, (count, t.size)))
    present = np.ones((count, 2), "float32")
    missing = rng.random(count) < 0.25
    present[missing, rng.integers(0, 2, missing.sum())] = 0.0  # one modality absent
    inputs = {"image": np.clip(images, 0, 255).astype("float32") * present[:, :1, None, None],
              "audio": audio.astype("float32") * present[:, 1:],
              "image_present": present[:, 0], "audio_present": present[:, 1]}
    return inputs, labels


train_x, train_y = make_data(96)
test_x, test_y = make_data(48)
print({k: v.shape for k, v in train_x.items()})
print("absent images:", int((train_x["image_present"] == 0).sum()),
      "| absent audio:", int((train_x["audio_present"] == 0).sum()), "of", len(train_y))

# The contract: whatever an absent modality's input holds, the prediction is the same.
garbage = dict(test_x, image=rng.uniform(0, 255, test_x["image"].shape).astype("float32"))
absent = test_x["image_present"] == 0
print("absent images ignored:",
      np.allclose(model.predict(test_x, batch_size=16, verbose=0)[absent],
                  model.predict(garbage, batch_size=16, verbose=0)[absent], atol=1e-6))

# %% [markdown]
# ## 5. Train, look at the modality weights, save and load
#
# In-memory arrays: Keras batches and shuffles them itself.

# %%
model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(train_x, train_y, batch_size=8, epochs=15, verbose=0)
print("training accuracy, every 5th epoch:",
      [round(a, 3) for a in history.history["accuracy"][4::5]])
loss, accuracy = model.evaluate(test_x, test_y, batch_size=16, verbose=0)
print(f"test accuracy {accuracy:.3f}")

# with_modality_weights works with any fusion that sets computes_modality_weights.
weighted = mmzoo.with_modality_weights(model)
weights = weighted.predict(test_x, batch_size=16, verbose=0)["modality_weights"]
for flags, row in list(zip(np.stack([test_x["image_present"], test_x["audio_present"]], 1),
                           weights))[:4]:
    print("present (image, audio):", flags, "-> weights", row.round(2))

# %%
path = workdir / "masked_mean_tiny.keras"
model.save(path)
# The class is registered (package "mmzoo_user"), so no custom_objects are needed. In a new
# Python session, define or import MaskedMeanFusion before loading.
reloaded = keras.saving.load_model(path)
fusion = reloaded.get_layer("fusion")
print(f"{type(fusion).__name__}(units={fusion.units})")
print("same predictions after loading:",
      np.allclose(reloaded.predict(test_x, batch_size=16, verbose=0),
                  model.predict(test_x, batch_size=16, verbose=0), atol=1e-6))
workdir_handle.cleanup()  # remove everything this notebook wrote

# %% [markdown]
# The same model exports for TF Serving like any other (`mmzoo.export_saved_model`, see
# `03_export_and_serve.ipynb`), and saves as a preset with `mmzoo.save_to_preset`: the
# architecture is stored as the Keras config, so loading it needs only the fusion class to be
# registered first.
