"""Fine-tuning an ``avmnist`` preset vs training from scratch, on a new label set from 100 examples.

The new task is the parity of the digit (even / odd). Both models have the preset's
architecture and see the same 100 training examples (drawn with a fixed seed from the
train split) for the same number of steps; the fine-tuned one starts from the preset
with a new head and frozen encoders (:mod:`mmzoo.finetuning`), the other from a random
initialization. Both are evaluated on the whole test split, relabelled the same way::

    python -m benchmarks.finetune_avmnist [preset]

Example:
    >>> results = compare("gated_lenet_avmnist")  # doctest: +SKIP
    >>> results["fine-tuned"]["accuracy"] > results["from scratch"]["accuracy"]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import sys

import keras

import mmzoo
from mmzoo import recipes
from mmzoo.data import make_dataset
from mmzoo.evaluation import evaluate
from mmzoo.finetuning import freeze_encoders

PARITY = ("even", "odd")
TRAIN_EXAMPLES = 100
EPOCHS = 30
BATCH_SIZE = 20
SEED = 2024


def parity_source(source, examples=None, seed=SEED):
    """``source`` labelled even/odd; with ``examples``, that many rows drawn with ``seed``."""
    rows = source.rows.map(lambda row: {**row, "label": row["label"] % 2})
    origins = source.origins
    if examples is not None:
        rows = rows.shuffle(len(origins), seed=seed, reshuffle_each_iteration=False).take(examples)
        origins = origins[:examples]  # only counted: the rows carry their own index
    return dataclasses.replace(source, rows=rows, class_names=PARITY, origins=origins)


def fit(model, train_data, preprocessor, learning_rate=1e-3):
    """Train ``model`` on ``train_data`` for :data:`EPOCHS` epochs, seeded."""
    keras.utils.set_random_seed(SEED)
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    batches = make_dataset(train_data, preprocessor, BATCH_SIZE, shuffle=True, cache=True,
                           seed=SEED)
    model.fit(batches, epochs=EPOCHS, verbose=0)
    return model


def compare(preset: str = "gated_lenet_avmnist", builder=None) -> dict:
    """Test metrics of the fine-tuned preset and of the same architecture from scratch.

    ``builder`` is the prepared ``avmnist`` TFDS builder (default: :func:`recipes.tfds_builder`).
    """
    recipe = recipes.load_recipe(preset)
    builder = builder or recipes.tfds_builder(recipe.data["tfds"])
    preprocessor = mmzoo.load_preprocessor(preset)
    train_data = parity_source(recipes.source(recipe, builder, "train"), TRAIN_EXAMPLES)
    test = recipes.evaluation_dataset(parity_source(recipes.source(recipe, builder, "test")),
                                      preprocessor)

    fine_tuned = mmzoo.from_preset(preset, num_classes=len(PARITY))
    freeze_encoders(fine_tuned)
    keras.utils.set_random_seed(SEED)
    scratch = recipe.model_factory(preprocessor, len(PARITY))()
    return {label: recipes.summary(evaluate(fit(model, train_data, preprocessor), test, PARITY))
            for label, model in (("fine-tuned", fine_tuned), ("from scratch", scratch))}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    preset = argv[0] if argv else "gated_lenet_avmnist"
    results = compare(preset)
    print(f"{preset} -> even/odd from {TRAIN_EXAMPLES} training examples, test split:")
    for label, metrics in results.items():
        print(f"  {label:>12}: accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}")


if __name__ == "__main__":
    main()
