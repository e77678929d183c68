"""``TrainConfig``: how to train, checked field by field, read from and written to YAML."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import yaml

from mmzoo.distribute import STRATEGIES
from mmzoo.utils import atomic_write_text

MIXED_PRECISION = (None, "float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How to train: everything :func:`train` needs besides the model and the data.

    Args:
        epochs: epochs to train (a resumed run trains the remaining ones).
        batch_size: the global batch size, split evenly among the replicas.
        steps_per_epoch: batches per epoch; None counts them from the data (which
            then must have a known length).
        validation_steps: likewise for the validation data.
        learning_rate: the optimizer's learning rate.
        optimizer: a Keras optimizer name, e.g. ``"adam"``, ``"sgd"``, ``"adamw"``.
        loss: a Keras loss name, or ``"auto"``: cross-entropy matching the model's
            output (softmax: sparse categorical; sigmoid: binary; no activation: from logits).
        metrics: Keras metric names, or the registered names (``"package>ClassName"``) of your
            own ``keras.metrics.Metric`` classes (``keras.saving.register_keras_serializable``).
        strategy: a :func:`~mmzoo.distribute.get_strategy` name.
        mixed_precision: None, ``"mixed_float16"`` (GPUs) or ``"mixed_bfloat16"`` (TPUs,
            recent CPUs); predictions stay float32.
        jit_compile: XLA-compile the train step: True, False or ``"auto"`` (Keras decides).
        output_dir: where checkpoints, backups, logs and the final model go.
        save_weights_only: checkpoints as ``.weights.h5`` instead of whole ``.keras`` models.
        monitor: the metric that picks the best checkpoint and drives early stopping;
            ``"val_loss"`` falls back to ``"loss"`` without validation data. Its direction
            is Keras' (``mode="auto"``): lower for losses, else the metric's own.
        patience: stop after this many epochs without improvement; None never stops early.
        deterministic: seed everything and make TF ops deterministic (needs ``seed``).
        seed: seeds Python, NumPy, TF and Keras, and the data shuffling.
        class_weight: None, ``"balanced"`` (see :func:`balanced_class_weights`) or
            ``{class_id: weight}``; applied as per-example sample weights.
        shuffle: shuffle the training data (for sources and prepared data).
        augment: augment training images (for sources and prepared data).
        on_error: bad files in a source: ``"raise"`` stops with an error naming the row,
            the file and the reason; ``"skip"`` skips them and logs a summary each epoch.
        data_service: a tf.data service dispatcher address (``"grpc://host:port"``):
            the training pipeline runs on its workers.
        verbose: Keras ``fit`` verbosity (0, 1 or 2).

    Example:
        >>> config = TrainConfig(epochs=5, mixed_precision="mixed_bfloat16")
        >>> TrainConfig.from_dict(config.to_dict()) == config
        True
    """

    epochs: int = 10
    batch_size: int = 32
    steps_per_epoch: int | None = None
    validation_steps: int | None = None
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    loss: str = "auto"
    metrics: tuple[str, ...] = ("accuracy",)
    strategy: str = "auto"
    mixed_precision: str | None = None
    jit_compile: bool | str = "auto"
    output_dir: str = "runs/train"
    save_weights_only: bool = False
    monitor: str = "val_loss"
    patience: int | None = None
    deterministic: bool = False
    seed: int | None = None
    class_weight: str | dict[int, float] | None = None
    shuffle: bool = True
    augment: bool = False
    on_error: str = "raise"
    data_service: str | None = None
    verbose: int = 2

    def __post_init__(self):
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "output_dir", str(self.output_dir))
        for field in ("epochs", "batch_size"):
            _require(_is_int(getattr(self, field)) and getattr(self, field) >= 1, field,
                     getattr(self, field), "use an integer >= 1")
        for field in ("steps_per_epoch", "validation_steps"):
            value = getattr(self, field)
            _require(value is None or _is_int(value) and value >= 1, field, value,
                     "use an integer >= 1, or None to count the batches of the data")
        _require(isinstance(self.learning_rate, int | float) and self.learning_rate > 0,
                 "learning_rate", self.learning_rate, "use a number > 0")
        _require(self.strategy in STRATEGIES, "strategy", self.strategy,
                 f"use one of {list(STRATEGIES)}")
        _require(self.mixed_precision in MIXED_PRECISION, "mixed_precision",
                 self.mixed_precision, f"use one of {list(MIXED_PRECISION)}")
        _require(self.jit_compile in (True, False, "auto"), "jit_compile", self.jit_compile,
                 "use true, false or 'auto'")
        _require(self.patience is None or _is_int(self.patience) and self.patience >= 0,
                 "patience", self.patience, "use an integer >= 0, or None not to stop early")
        _require(not self.deterministic or _is_int(self.seed), "seed", self.seed,
                 "deterministic=True needs an integer seed")
        _require(self.verbose in (0, 1, 2), "verbose", self.verbose, "use 0, 1 or 2")
        _require(self.on_error in ("raise", "skip"), "on_error", self.on_error,
                 "use 'raise' or 'skip'")
        if isinstance(self.class_weight, dict):
            _require(all(_is_int(k) and k >= 0 and isinstance(w, int | float) and w >= 0
                         for k, w in self.class_weight.items()), "class_weight",
                     self.class_weight, "map integer class ids to weights >= 0")
        else:
            _require(self.class_weight in (None, "balanced"), "class_weight", self.class_weight,
                     "use None, 'balanced' or a {class_id: weight} mapping")

    def to_dict(self) -> dict[str, Any]:
        """A YAML/JSON-friendly dict of the fields."""
        return {**dataclasses.asdict(self), "metrics": list(self.metrics)}

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> TrainConfig:
        """The config a :meth:`to_dict` dict (or a YAML file's mapping) describes."""
        fields = {field.name for field in dataclasses.fields(cls)}
        unknown = set(config) - fields
        if unknown:
            raise ValueError(f"TrainConfig has no fields {sorted(unknown)}; the fields are "
                             f"{sorted(fields)}.")
        return cls(**config)

    def save(self, path) -> None:
        """Write the config as YAML, e.g. ``config.save("cfg.yaml")``."""
        atomic_write_text(pathlib.Path(path), yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def load(cls, path) -> TrainConfig:
        """Read a YAML config: ``TrainConfig.load("cfg.yaml")``; absent fields keep defaults."""
        config = yaml.safe_load(pathlib.Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(config, dict):
            raise ValueError(f"{path} holds a {type(config).__name__}, not a mapping of "
                             "TrainConfig fields (e.g. 'epochs: 10').")
        return cls.from_dict(config)

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed, e.g. ``config.replace(epochs=20)``."""
        return dataclasses.replace(self, **changes)


def _require(condition: bool, field: str, value, what: str) -> None:
    if not condition:
        raise ValueError(f"TrainConfig.{field}={value!r} is invalid: {what}.")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
