# %% [markdown]
# # Quickstart: from raw files to predictions
#
# This notebook walks through mmzoo's main path on **real files**:
#
# 1. write a tiny labelled dataset to a temporary folder: a short text, a PNG drawing and a WAV
#    clip per example, listed in a CSV manifest (`text`, `image`, `audio`, `label`);
# 2. read it with `mmzoo.data.from_manifest`, make a `Preprocessor` (text vocabulary adapted on
#    the training split) and batch it with `mmzoo.data.make_dataset`;
# 3. build a tri-modal classifier with `mmzoo.build_classifier`, train it briefly, evaluate it;
# 4. predict on new raw inputs (a string, PNG bytes, WAV bytes), with a modality missing;
# 5. look at the per-example modality weights, and save and reload the model as `.keras`;
# 6. do the same training in one call with `mmzoo.train`.
#
# Everything is tiny (48 training examples, a model of ~8k parameters) so the notebook runs in
# well under a minute on a laptop CPU; it writes only to a temporary folder.

# %%
import os

# Quiet TensorFlow's C++ logging: set before TensorFlow (or mmzoo) is first imported.
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"

import csv
import pathlib
import tempfile
import warnings

import cv2  # only to draw the example images
import keras
import numpy as np
import soundfile  # only to write the example WAV files
import tensorflow as tf

import mmzoo
from mmzoo import evaluation
from mmzoo.data import from_manifest, make_dataset
from mmzoo.data.transforms import mark_absent
from mmzoo.preprocessing import Preprocessor

# librosa (log-mel filterbank) imports tqdm.auto, which warns in a kernel without ipywidgets.
warnings.filterwarnings("ignore", message="IProgress not found")
keras.utils.set_random_seed(0)  # seeds Python, NumPy and TensorFlow: the same numbers every run
workdir_handle = tempfile.TemporaryDirectory(prefix="mmzoo-quickstart-")
workdir = pathlib.Path(workdir_handle.name)  # everything this notebook writes goes here
print("mmzoo", mmzoo.__version__, "| TensorFlow", tf.__version__, "| Keras", keras.__version__)

# %% [markdown]
# ## 1. A tiny dataset of raw files
#
# Three classes. Each example has a short caption (half of them name the class, the others are
# filler words), a picture (a noisy canvas of the class's colour with a white disc somewhere) and
# a noisy tone whose pitch depends on the class. One example in five has **no audio**:
# its `audio` cell in the manifest is empty, which mmzoo treats as a missing modality (not an
# error). Paths in the manifest are relative to the manifest's folder.

# %%
CLASSES = {  # label: (words, colour as RGB, tone pitch in Hz)
    "frog": (["green", "frog", "pond", "jumps"], (40, 160, 40), 300.0),
    "sun": (["yellow", "sun", "sky", "warm"], (230, 190, 20), 900.0),
    "sea": (["blue", "sea", "wave", "deep"], (30, 80, 200), 2000.0),
}
FILLER = ["a", "the", "nice", "picture", "of", "my", "little", "big"]
rng = np.random.default_rng(0)


def write_example(stem: pathlib.Path, label: str) -> tuple[bytes, bytes]:
    """Write stem.png (48x40 pixels) and stem.wav (0.6 s at 16 kHz); return their bytes."""
    words, rgb, pitch = CLASSES[label]
    canvas = np.clip(np.array(rgb) + rng.normal(0, 40, (40, 48, 3)), 0, 255).astype(np.uint8)
    centre = (int(rng.integers(12, 36)), int(rng.integers(12, 28)))
    cv2.circle(canvas, centre, int(rng.integers(6, 12)), (255, 255, 255), -1)
    cv2.imwrite(str(stem.with_suffix(".png")), canvas[..., ::-1])  # OpenCV writes BGR
    seconds = np.arange(int(0.6 * 16000)) / 16000
    wave = 0.5 * np.sin(2 * np.pi * pitch * seconds) + rng.normal(0, 0.05, seconds.size)
    soundfile.write(stem.with_suffix(".wav"), wave.astype("float32"), 16000)
    return stem.with_suffix(".png").read_bytes(), stem.with_suffix(".wav").read_bytes()


def write_manifest(split: str, size: int) -> pathlib.Path:
    """files/<split>-NNN.png|.wav and <split>.csv; every 5th example has no audio."""
    (workdir / "files").mkdir(exist_ok=True)
    rows = []
    for i in range(size):
        label = list(CLASSES)[i % len(CLASSES)]
        stem = workdir / "files" / f"{split}-{i:03d}"
        write_example(stem, label)
        words = list(rng.choice(FILLER, 3))
        if i % 2 == 0:  # half of the captions name the class
            words.insert(int(rng.integers(0, 4)), str(rng.choice(CLASSES[label][0])))
        rows.append({"text": " ".join(words),
                     "image": f"files/{stem.name}.png",
                     "audio": "" if i % 5 == 4 else f"files/{stem.name}.wav",
                     "label": label})
    path = workdir / f"{split}.csv"
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, ["text", "image", "audio", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return path


train_csv, test_csv = write_manifest("train", 48), write_manifest("test", 18)
print("\n".join(train_csv.read_text().splitlines()[:6]))

# %% [markdown]
# ## 2. Sources, the preprocessor and `tf.data` pipelines
#
# A `Source` lists the examples (rows of paths and strings) and the class names. The
# `Preprocessor` turns raw inputs into the model's inputs, following one **spec** per modality:
# `TextSpec` (token ids), `ImageSpec` (pixels, resized with padding) and `AudioSpec` (a waveform,
# resampled and cropped or padded). Its text vocabulary is learned on the training split only.
#
# `make_dataset` decodes the files in parallel with TensorFlow ops and yields batches of
# `(features, label)` whose keys are the model's input names. A file that cannot be read stops it
# with an error naming the manifest row and the file (or, with `on_error="skip"`, is skipped and
# counted). `cache=True` keeps the decoded examples in memory after the first pass.

# %%
train_source = from_manifest(train_csv)
test_source = from_manifest(test_csv, class_names=train_source.class_names)  # same class ids
class_names = train_source.class_names
print("classes:", class_names, "| training examples:", len(train_source.origins))

text_spec = mmzoo.TextSpec(vocabulary_size=64, sequence_length=8)
image_spec = mmzoo.ImageSpec(height=32, width=32, channels=3)
audio_spec = mmzoo.AudioSpec(sample_rate=8000, clip_seconds=0.5, num_mel_bins=32,
                             fft_length=256, hop_length=128)
preprocessor = Preprocessor(text=text_spec, image=image_spec, audio=audio_spec)
preprocessor = preprocessor.adapt(train_source.texts())  # learn the vocabulary (training split)
print("vocabulary:", preprocessor.specs["text"].vocabulary)

train_ds = make_dataset(train_source, preprocessor, batch_size=8, shuffle=True, seed=0,
                        cache=True)
test_ds = make_dataset(test_source, preprocessor, batch_size=6, drop_remainder=False)

features, labels = next(iter(train_ds))
for name, value in features.items():
    print(f"{name:14s} {str(value.dtype.name):8s} {tuple(value.shape)}")
print("labels        ", labels.numpy())

# %% [markdown]
# ## 3. Build, train, evaluate
#
# `build_classifier` takes the same specs (the text spec with its vocabulary), an encoder per
# modality, a fusion method and a head. Here: a bag of embeddings for text, small LeNet CNNs for
# the image and for the log-mel spectrogram of the audio (computed inside the model), and
# **attention** fusion, which weighs the modalities per example. `modality_dropout=0.3` marks a
# present modality absent at random during training (never all of them), so the model learns to
# classify from any one modality too.
#
# The CNN encoders use batch normalization, whose inference statistics are moving averages over
# training steps: a few hundred steps are needed before the model predicts as well as it trains,
# hence a repeated dataset and a fixed number of steps per epoch.
#
# `mmzoo.create_model("attention_tiny", num_classes=3)` builds the same architecture by name
# (`mmzoo.list_models()` lists them); the specs are spelled out here so the preprocessor and the
# model visibly agree.

# %%
model = mmzoo.build_classifier(
    text=preprocessor.specs["text"], image=image_spec, audio=audio_spec,
    encoders={"text": "bag_of_embeddings",
              "image": {"kind": "lenet", "width": 4, "depth": 2},
              "audio": {"kind": "lenet", "width": 4, "depth": 2}},
    fusion="attention", embedding_dim=16, modality_dropout=0.3, num_classes=len(class_names),
    name="quickstart")
print(f"{model.name}: {model.count_params():,} parameters; inputs {sorted(model.input)}")

model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
              metrics=["accuracy"])
# 240 steps of 8 examples: the dataset, repeated, shuffled anew on each pass. (Keras' own
# `shuffle` only applies to in-memory arrays.)
history = model.fit(train_ds.repeat(), epochs=6, steps_per_epoch=40, shuffle=False, verbose=0)
for epoch, (loss, accuracy) in enumerate(zip(history.history["loss"],
                                             history.history["accuracy"]), 1):
    print(f"epoch {epoch}: loss {loss:.3f}, accuracy {accuracy:.3f}")

# Test accuracy (mmzoo.evaluation: scikit-learn metrics over the whole test set) with every
# modality, then with only one of them (the other two marked absent in every example).
report = evaluation.evaluate(model, test_ds, class_names)
print(f"test accuracy, all modalities: {report['accuracy']:.3f}")
for only in ("text", "image", "audio"):
    others = [m for m in ("text", "image", "audio") if m != only]
    report = evaluation.evaluate(model, mark_absent(test_ds, others), class_names)
    print(f"test accuracy, {only} only: {report['accuracy']:.3f}")

# %% [markdown]
# ## 4. Predict on new raw inputs
#
# The preprocessor is a Keras layer: call it on a batch of raw inputs (strings, encoded image
# bytes, WAV bytes) to get the model's inputs. An empty string marks a modality **absent** for
# that example: its input is zeros and its presence flag 0.0, and the model ignores it.

# %%
png, wav = write_example(workdir / "new-sea", "sea")  # a new drawing and tone of the "sea" class
raw = {"text": tf.constant(["deep blue sea", "", "a warm sun"]),
       "image": tf.constant([png, png, b""]),        # the third example has no image...
       "audio": tf.constant([wav, b"", b""])}        # ...and only the first has audio
new_features = preprocessor(raw)
print("presence flags:", {k: v.numpy().tolist() for k, v in new_features.items()
                          if k.endswith("_present")})

probabilities = model.predict(new_features, verbose=0)
for text, row in zip(raw["text"].numpy(), probabilities):
    print(f"{text.decode()!r:16}: {class_names[row.argmax()]:5s}",
          " ".join(f"{name} {p:.2f}" for name, p in zip(class_names, row)))

# %% [markdown]
# ## 5. Modality weights, and saving the model
#
# Attention fusion computes a weight per modality and example; `with_modality_weights` returns
# the same model with them as a second output (text, image, audio; an absent modality gets 0).
# The model saves to a single `.keras` file and loads back with `keras.saving.load_model`
# (importing mmzoo registers its layers).

# %%
weights = mmzoo.with_modality_weights(model).predict(new_features, verbose=0)["modality_weights"]
print("modality weights (text, image, audio):\n", weights.round(2))

model.save(workdir / "quickstart.keras")
reloaded = keras.saving.load_model(workdir / "quickstart.keras")
same = np.allclose(reloaded.predict(new_features, verbose=0), probabilities, atol=1e-6)
print("reloaded model gives the same predictions:", same)

# %% [markdown]
# ## 6. The same in one call: `mmzoo.train`
#
# `mmzoo.train` builds the model (from a registered name, here with our specs, or from a function,
# inside a `tf.distribute` strategy's scope), compiles it, fits it on a `Source` (or prepared
# TFRecords) and writes checkpoints, TensorBoard logs, `history.json` and the final `model.keras`
# to `output_dir`. Run the same call again and it resumes from the last completed epoch;
# `validation_data=` takes a source too.

# %%
# Two short epochs, only to show what a run leaves behind.
config = mmzoo.TrainConfig(epochs=2, steps_per_epoch=10, batch_size=8, learning_rate=1e-3,
                           seed=0, verbose=0, output_dir=str(workdir / "run"))
history = mmzoo.train("attention_tiny", train_source, config, preprocessor=preprocessor,
                      model_options={"num_classes": len(class_names),
                                     "text": preprocessor.specs["text"],
                                     "image": image_spec, "audio": audio_spec})
print("metrics per epoch:", sorted(history.history))
print("written:", sorted(str(p.relative_to(config.output_dir))
                         for p in pathlib.Path(config.output_dir).glob("*")))

# %%
workdir_handle.cleanup()  # remove everything this notebook wrote
print("removed the temporary folder:", not workdir.exists())
