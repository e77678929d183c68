"""``make demo``: build a tri-modal classifier, train it briefly, show what it learned.

Runs in about a minute on a laptop CPU with generated data: each class has its
own image brightness, audio tone and words, so the model can learn from every
modality. Later versions of the demo use the zoo's real data and checkpoints.
"""

from __future__ import annotations

import keras
import numpy as np

import mmzoo
from mmzoo.specs import presence_key

CLASSES = 4


def learnable_sample(model, size, seed=0):
    """Inputs whose class shows in every modality, and their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, size)
    image_shape = model.input["image"].shape[1:]
    samples = model.input["audio"].shape[1]
    vocabulary = model.get_layer("text_encoder").get_layer("text_token_embedding").input_dim
    length = model.input["text"].shape[1]
    time = np.arange(samples) / 8000.0
    inputs = {
        "image": (labels[:, None, None, None] * 60.0
                  + rng.uniform(0, 40, (size, *image_shape))).astype("float32"),
        "audio": (0.5 * np.sin(2 * np.pi * (300.0 + 400.0 * labels[:, None]) * time)
                  + rng.normal(0, 0.1, (size, samples))).astype("float32"),
        "text": (2 + labels[:, None] * 10 + rng.integers(0, 10, (size, length))).clip(
            0, vocabulary - 1).astype("int32"),
    }
    for modality in ("text", "image", "audio"):
        inputs[presence_key(modality)] = np.ones(size, "float32")
    return inputs, labels


def main():
    keras.utils.set_random_seed(0)  # the same numbers on every run
    print(f"mmzoo {mmzoo.__version__}: {len(mmzoo.list_models())} architectures, "
          f"fusions {mmzoo.list_fusions()}")
    model = mmzoo.create_model("attention_tiny", num_classes=CLASSES)
    model.summary(line_length=100)
    print("data: generated sample (class-dependent image brightness, audio tone and words)")
    train_x, train_y = learnable_sample(model, 256, seed=0)
    test_x, test_y = learnable_sample(model, 128, seed=1)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train_x, train_y, batch_size=32, epochs=10, verbose=2)
    _, accuracy = model.evaluate(test_x, test_y, verbose=0)
    print(f"test accuracy: {accuracy:.3f} (chance {1 / CLASSES:.2f})")
    for absent in ("text", "image", "audio"):
        ablated = {**test_x, presence_key(absent): np.zeros(len(test_y), "float32")}
        print(f"  with {absent} marked absent: {model.evaluate(ablated, test_y, verbose=0)[1]:.3f}")
    weights = mmzoo.with_modality_weights(model).predict(test_x, verbose=0)["modality_weights"]
    print("mean attention over (text, image, audio):", np.round(weights.mean(axis=0), 3))


if __name__ == "__main__":
    main()
