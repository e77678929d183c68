# %% [markdown]
# # Fine-tuning a zoo checkpoint for a new label set
#
# The zoo's presets are trained models with everything needed to use them again: architecture,
# weights, preprocessing, class names and provenance. This notebook takes the
# `gated_lenet_avmnist` preset (digits from degraded MNIST images and noisy spoken digits, fused by
# a gated multimodal unit) and teaches it a **new label set**: three shapes, from a handful of
# examples.
#
# 1. look the preset up by name: what it was trained on, how well it does, its license;
# 2. load its `Preprocessor` and write a small sample of raw files it accepts (28x28 greyscale
#    PNGs, 1 s WAV clips), listed in CSV manifests, some with the audio missing;
# 3. `mmzoo.from_preset(name, num_classes=3)`: the preset's encoders and fusion, a new head;
# 4. freeze the encoders and train the head; then unfreeze and fine-tune everything at a lower
#    learning rate; evaluate after each step;
# 5. look at what each modality contributes, and save the result as a new preset.
#
# The data is generated (no download, nothing read from `$MMZOO_DATA_DIR`) and tiny, so the whole
# notebook runs in well under a minute on a CPU. The last section shows the same on the real
# AV-MNIST data.

# %%
import os

# Quiet TensorFlow's C++ logging: set before TensorFlow (or mmzoo) is first imported.
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

import csv
import json
import pathlib
import tempfile
import warnings

import cv2  # only to draw the example images
import keras
import numpy as np
import soundfile  # only to write the example WAV files

import mmzoo
from mmzoo import evaluation
from mmzoo.data import from_manifest, make_dataset
from mmzoo.finetuning import freeze_encoders, head_layers, unfreeze_encoders

# librosa (log-mel filterbank) imports tqdm.auto, which warns in a kernel without ipywidgets.
warnings.filterwarnings("ignore", message="IProgress not found")
keras.utils.set_random_seed(0)  # the same numbers on every run
workdir_handle = tempfile.TemporaryDirectory(prefix="mmzoo-finetune-")
workdir = pathlib.Path(workdir_handle.name)  # everything this notebook writes goes here
print("presets:", mmzoo.list_presets())

# %% [markdown]
# ## 1. The preset
#
# `preset_info` answers from the package's registry, without loading any weights: class names,
# the dataset and split it was trained on, the training recipe, test metrics and the data's
# license.

# %%
PRESET = "gated_lenet_avmnist"
info = mmzoo.preset_info(PRESET)
print(info["description"])
print("classes:", info["class_names"])
print(f"test accuracy {info['metrics']['accuracy']:.3f} on {info['metrics']['examples']:,} "
      f"examples of {info['dataset']!r}; recipe {info['recipe']}")
print("data license:", info["license"])

preprocessor = mmzoo.load_preprocessor(PRESET)  # the preprocessing the preset was trained with
for modality, spec in preprocessor.specs.items():
    print(f"{modality}: {spec}")

# %% [markdown]
# ## 2. A small sample of raw files for the new task
#
# The new classes are shapes: a circle, a square or a triangle outline, drawn light on a dark
# noisy background like the preset's digits, at 28x28 pixels in greyscale. Each comes with a short
# tone in noise whose pitch depends on the shape (a stand-in for a spoken word), 8 kHz as the
# preset's `AudioSpec` expects; one example in four has no audio. The files only need to be
# *decodable*: the preprocessor would resize any image and resample any WAV to the preset's specs.

# %%
SHAPES = {"circle": 300.0, "square": 900.0, "triangle": 2000.0}  # class: tone pitch in Hz
CLASS_NAMES = tuple(SHAPES)
rng = np.random.default_rng(0)


def write_example(stem: pathlib.Path, shape: str) -> None:
    """stem.png: a shape outline, 28x28 grey; stem.wav: 1 s at 8 kHz, a tone in noise."""
    image = np.zeros((28, 28), np.uint8)
    x, y, r = int(rng.integers(9, 19)), int(rng.integers(9, 19)), int(rng.integers(5, 9))
    if shape == "circle":
        cv2.circle(image, (x, y), r, 255, 2, cv2.LINE_AA)
    elif shape == "square":
        cv2.rectangle(image, (x - r, y - r), (x + r, y + r), 255, 2, cv2.LINE_AA)
    else:
        corners = np.array([[x, y - r], [x - r, y + r], [x + r, y + r]], np.int32)
        cv2.polylines(image, [corners], True, 255, 2, cv2.LINE_AA)
    image = np.clip(image + rng.normal(0, 30, image.shape), 0, 255).astype(np.uint8)
    cv2.imwrite(str(stem.with_suffix(".png")), image)

    rate = 8000
    t = np.arange(rate) / rate
    start = rng.uniform(0.0, 0.5)
    tone = 0.3 * np.sin(2 * np.pi * SHAPES[shape] * t) * ((t > start) & (t < start + 0.4))
    wave = tone + rng.normal(0, 0.05, rate)
    soundfile.write(stem.with_suffix(".wav"), wave.astype("float32"), rate, subtype="PCM_16")


def write_manifest(split: str, size: int) -> pathlib.Path:
    (workdir / "files").mkdir(exist_ok=True)
    rows = []
    for i in range(size):
        shape = CLASS_NAMES[i % len(CLASS_NAMES)]
        stem = workdir / "files" / f"{split}-{i:03d}"
        write_example(stem, shape)
        rows.append({"image": f"files/{stem.name}.png",
                     "audio": "" if i % 4 == 3 else f"files/{stem.name}.wav",  # audio missing
                     "label": shape})
    path = workdir / f"{split}.csv"
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, ["image", "audio", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return path


train_source = from_manifest(write_manifest("train", 48), class_names=CLASS_NAMES)
test_source = from_manifest(write_manifest("test", 30), class_names=CLASS_NAMES)
train_ds = make_dataset(train_source, preprocessor, batch_size=16, shuffle=True, seed=0,
                        cache=True)
# Every test example counts: keep the last, smaller batch.
test_ds = make_dataset(test_source, preprocessor, batch_size=10, cache=True,
                       drop_remainder=False)
print(f"{len(train_source.origins)} training and {len(test_source.origins)} test examples "
      f"of {CLASS_NAMES}")

# %% [markdown]
# ## 3. The preset with a new head
#
# With a `num_classes` other than the preset's ten, `from_preset` loads every weight and then
# replaces the final `logits` layer by a new, randomly initialized one
# (`mmzoo.finetuning.replace_head`). The encoders, the gated fusion and the head's hidden layer keep
# the preset's weights exactly.

# %%
preset_model = mmzoo.from_preset(PRESET)  # the preset as published: 10 digits
model = mmzoo.from_preset(PRESET, num_classes=len(CLASS_NAMES))  # same body, new 3-class head
print("output:", preset_model.output.shape, "->", model.output.shape)
print("head layers:", [layer.name for layer in head_layers(model)])

same = all(np.array_equal(a, b) for a, b in zip(preset_model.get_layer("fusion").get_weights(),
                                                model.get_layer("fusion").get_weights()))
print("fusion weights identical to the preset's:", same)


# %% [markdown]
# ## 4. Train the head, then fine-tune everything
#
# **Step 1: frozen encoders.** `freeze_encoders` makes the image and audio encoders untrainable
# (their batch normalization keeps the preset's statistics); the fusion and the head learn.
# The test accuracy is measured with `mmzoo.evaluation.evaluate` (scikit-learn metrics over the
# whole test set), before and after.
#
# The training data is repeated and each epoch is a fixed number of steps, so Keras never needs to
# know the length of the dataset.

# %%
def test_scores(model) -> str:
    report = evaluation.evaluate(model, test_ds, CLASS_NAMES)
    return f"accuracy {report['accuracy']:.3f}, macro-F1 {report['macro_f1']:.3f}"


freeze_encoders(model)
model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
print(f"trainable parameters: {trainable:,} of {model.count_params():,}")
print("test before training (new head):", test_scores(model))

encoder_before = model.get_layer("image_encoder").get_weights()
history = model.fit(train_ds.repeat(), epochs=5, steps_per_epoch=8, shuffle=False, verbose=0)
print("training accuracy per epoch:", [round(a, 3) for a in history.history["accuracy"]])
print("test, encoders frozen:       ", test_scores(model))
encoder_after = model.get_layer("image_encoder").get_weights()
unchanged = all(np.array_equal(a, b) for a, b in zip(encoder_before, encoder_after))
print("image encoder unchanged (batch-norm statistics included):", unchanged)

# %% [markdown]
# **Step 2: fine-tune.** `unfreeze_encoders` makes the encoders trainable again, except their
# batch-normalization layers, which keep the preset's statistics (statistics re-estimated from a
# few batches of 16 would undo much of what the encoders learned; `batch_norm=True` unfreezes them
# too). Recompile, with a learning rate ten times lower.
#
# Compare the two test scores: with 48 training examples, unfreezing gains little and may lose a
# little (30 test examples make every mistake 3%); with a few hundred examples or more it usually
# pays. `docs/guides/finetuning.md` has measurements.

# %%
unfreeze_encoders(model)
model.compile(keras.optimizers.Adam(3e-4), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
print(f"trainable parameters: {trainable:,} of {model.count_params():,}")
history = model.fit(train_ds.repeat(), epochs=3, steps_per_epoch=8, shuffle=False, verbose=0)
print("training accuracy per epoch:", [round(a, 3) for a in history.history["accuracy"]])
print("test, fine-tuned:", test_scores(model))

# %% [markdown]
# ## 5. What each modality contributes
#
# `modality_ablation` scores the test set again with each modality marked absent in every
# example (the presence flags set to 0). The gated fusion also weighs the modalities per example:
# `with_modality_weights` returns those weights (image, audio), here averaged over the test set,
# for the examples with audio and those without.

# %%
for row in evaluation.modality_ablation(model, test_ds, CLASS_NAMES):
    print(f"{row['absent'] or 'nothing':>7} absent: accuracy {row['accuracy']:.3f}")

weighted = mmzoo.with_modality_weights(model)
weights, has_audio = [], []
for features, _ in test_ds:
    weights.append(weighted.predict_on_batch(features)["modality_weights"])
    has_audio.append(features["audio_present"].numpy() > 0)
weights, has_audio = np.concatenate(weights), np.concatenate(has_audio)
print("mean weights (image, audio), audio present:", weights[has_audio].mean(0).round(2))
print("mean weights (image, audio), audio absent: ", weights[~has_audio].mean(0).round(2))

# %% [markdown]
# ## 6. Save the result as a preset
#
# `save_to_preset` writes the model, its preprocessor, the new class names and your provenance
# into a folder that `from_preset`, `load_preprocessor` and `export_saved_model` take like any
# zoo name (every file is checked against the sha256 recorded in `metadata.json`).

# %%
preset_dir = mmzoo.save_to_preset(
    model, workdir / "shapes_v1", class_names=CLASS_NAMES, preprocessor=preprocessor,
    metadata={"description": f"{PRESET} fine-tuned on generated shapes",
              "dataset": "generated shapes (notebook 02)", "license": "CC0-1.0"})
print(sorted(p.name for p in preset_dir.iterdir()))
print({k: v for k, v in json.loads((preset_dir / "metadata.json").read_text()).items()
       if k in ("name", "class_names", "task", "parameter_count")})

reloaded = mmzoo.from_preset(preset_dir)
features, _ = next(iter(test_ds))
print("reloaded preset predicts the same:",
      np.allclose(reloaded.predict_on_batch(features), model.predict_on_batch(features), atol=1e-6))

# %%
workdir_handle.cleanup()  # remove everything this notebook wrote
print("removed the temporary folder:", not workdir.exists())

# %% [markdown]
# ## On the real data
#
# With the datasets in `$MMZOO_DATA_DIR` (MNIST and the Free Spoken Digit Dataset; see
# `docs/datasets.md`), the same steps run on AV-MNIST itself, e.g. for a new label set such as the
# digit's parity. `python -m benchmarks.finetune_avmnist` does exactly that from 100 training
# examples and compares with the same architecture trained from scratch (see
# `docs/guides/finetuning.md` for its results). In short:
#
# ```python
# import dataclasses
# from mmzoo import recipes
#
# recipe = recipes.load_recipe(PRESET)
# builder = recipes.tfds_builder("avmnist")        # prepares the TFDS dataset once (minutes)
# train = recipes.source(recipe, builder, "train")  # a Source, like from_manifest's
# parity = dataclasses.replace(
#     train, rows=train.rows.map(lambda row: {**row, "label": row["label"] % 2}),
#     class_names=("even", "odd"))
# ```
