"""``train``: Keras ``fit`` under any ``tf.distribute`` strategy, resumable, with its outputs on disk.

The output directory of a run::

    output_dir/
      run.json             what defines the run (TrainConfig, model, specs, class names),
                           checked when the run resumes
      config.yaml          the TrainConfig of the run
      checkpoints/         best.keras (best `monitor` so far) and last.keras (latest epoch),
                           or best.weights.h5 / last.weights.h5 with save_weights_only
      backup/              epoch-NNNN.weights.h5: model and optimizer state after epoch NNNN,
                           read back when the same command runs again (resume)
      logs/                TensorBoard logs (train/ and validation/)
      history.json         metrics per epoch, across resumed runs
      model.keras          the final model
      workers/<task>/      the same layout, for each non-chief worker of a multi-worker run

Every file is written under a temporary ``.partial-`` name and renamed once complete,
so a run killed at any moment leaves only loadable files behind. A folder holding a
backup is resumed only by a run of the same config (see :func:`train`); any problem
with the folder is a :class:`RunFolderError` raised before the first epoch.

Example:
    >>> config = TrainConfig(epochs=3, batch_size=32, output_dir="runs/demo")
    >>> history = train("concat_tiny", train_source, config, preprocessor=pre)  # doctest: +SKIP
    >>> history.model.predict(features)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import pathlib
import reprlib
import shutil
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf
import yaml

from mmzoo.data import PreparedData, Source, make_dataset
from mmzoo.distribute import STRATEGIES, get_strategy, is_chief, use_data_service
from mmzoo.models import create_model

MIXED_PRECISION = (None, "float32", "mixed_float16", "mixed_bfloat16")
PARTIAL_PREFIX = ".partial-"
RUN_RECORD = "run.json"
#: TrainConfig fields a resumed run may change: they do not change what is trained
#: (``epochs`` may grow; fewer epochs than trained already is an error).
RESUMABLE_FIELDS = ("epochs", "verbose", "output_dir", "data_service")
#: What a run writes at the top of its folder (``overwrite`` removes these, and the
#: checkpoints, backups and TensorBoard logs, and nothing else).
RUN_FILES = (RUN_RECORD, "config.yaml", "history.json", "model.keras")
START_AFRESH = "pass overwrite=True (mmzoo train/finetune: --overwrite) to start afresh"


class RunFolderError(ValueError):
    """An output folder ``train`` cannot use as it is: it holds a run of another config, a
    corrupt file, or cannot be written. The message names the folder or file and what to do."""


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


DatasetFn = Callable[[tf.distribute.InputContext], tf.data.Dataset]


def train(model: str | Callable[..., keras.Model], train_data: Source | PreparedData | DatasetFn,
          config: TrainConfig | None = None, *, validation_data=None, preprocessor=None,
          model_options: dict | None = None, callbacks=(),
          strategy: tf.distribute.Strategy | None = None, model_info: dict | None = None,
          overwrite: bool = False) -> keras.callbacks.History:
    """Build, compile and fit a model under ``config.strategy``; resume when a backup exists.

    Running the same call again after a crash or kill resumes from the last
    completed epoch (see the module docstring for the output directory). The folder's
    ``run.json`` records what defines the run: the config (but :data:`RESUMABLE_FIELDS`),
    the architecture and its options, the built model's inputs, outputs and weights, the
    preprocessor's specs and the data's class names. A folder holding a backup of a run
    that differs is refused, naming the differing fields, unless ``overwrite``; so is
    ``config.epochs`` below the epochs trained already, a corrupt ``run.json``,
    ``history.json`` or backup, and a folder that cannot be written. All before the first epoch.

    Args:
        model: an architecture name (:func:`mmzoo.list_models`) or a function returning
            a new ``keras.Model``; it is called under the strategy's scope.
        train_data: a :class:`~mmzoo.data.Source` or :class:`~mmzoo.data.PreparedData`
            (with ``preprocessor``), or a function ``input_context -> tf.data.Dataset``
            of per-replica batches ``(features, labels)``; use
            ``input_context.get_per_replica_batch_size(config.batch_size)`` and shard
            by ``input_context.input_pipeline_id``.
        config: a :class:`TrainConfig`; the defaults when None.
        validation_data: like ``train_data``, or None.
        preprocessor: the :class:`~mmzoo.preprocessing.Preprocessor` for sources and prepared data.
        model_options: arguments for ``model``, e.g. ``{"num_classes": 10}``.
        callbacks: more Keras callbacks.
        strategy: a strategy made already, instead of ``get_strategy(config.strategy)``;
            a multi-worker strategy must be made before any TF op runs, so make it
            first when you build data or models before calling ``train``.
        model_info: what else defines the model when ``model`` is a function, recorded
            and compared on resume, e.g. ``{"architecture": "concat_tiny"}``.
        overwrite: start afresh: remove what an earlier run wrote into the folder (the
            files of the module docstring's layout, nothing else) instead of resuming it.

    Raises:
        RunFolderError: the output folder cannot be used as it is (see above).

    Returns:
        The ``keras.callbacks.History`` of this run's epochs; ``history.model`` is the model.

    Example:
        >>> def train_batches(context):
        ...     batch = context.get_per_replica_batch_size(32)
        ...     return tf.data.Dataset.from_tensor_slices((features, labels)).shard(
        ...         context.num_input_pipelines, context.input_pipeline_id).batch(batch)
        >>> history = train("concat_tiny", train_batches, TrainConfig(epochs=2),
        ...                 model_options={"num_classes": 3})  # doctest: +SKIP
    """
    config = config or TrainConfig()
    if isinstance(model, keras.Model) or not (isinstance(model, str) or callable(model)):
        raise ValueError("model must be an architecture name or a function returning a new "
                         "keras.Model (e.g. lambda: build_classifier(...)), so that it is built "
                         f"under the strategy's scope; got {type(model).__name__}.")
    factory = functools.partial(create_model, model) if isinstance(model, str) else model
    strategy = strategy or get_strategy(config.strategy)
    if config.seed is not None:
        keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    if config.batch_size % strategy.num_replicas_in_sync:
        raise ValueError(f"TrainConfig.batch_size={config.batch_size} does not split evenly "
                         f"among the {strategy.num_replicas_in_sync} replicas; use a multiple "
                         f"of {strategy.num_replicas_in_sync}.")
    output_dir = _worker_output_dir(pathlib.Path(config.output_dir), strategy)
    suffix = ".weights.h5" if config.save_weights_only else ".keras"
    backup = EpochBackup(output_dir / "backup")
    if overwrite:
        _remove_run(output_dir, backup)
    _check_writable(output_dir, suffix)
    _remove_partial_files(output_dir)
    history_file = EpochHistory(output_dir / "history.json")
    history_file.read()  # a corrupt history is said now, not after the first epoch
    if isinstance(model, str):
        model_info = {"architecture": model, "options": model_options or {}, **(model_info or {})}

    with _dtype_policy(config.mixed_precision), strategy.scope():
        model = factory(**(model_options or {}))
        model.compile(optimizer=_optimizer(config), loss=_loss(model, config.loss),
                      metrics=_metrics(config), jit_compile=config.jit_compile)
        record = run_record(config, model, model_info, preprocessor, train_data)
        _check_resumable(output_dir, record, backup, config.epochs)
        initial_epoch = backup.restore(model)
    atomic_write_text(output_dir / RUN_RECORD, json.dumps(record, indent=1))
    config.save(output_dir / "config.yaml")

    train_fn = _dataset_fn(train_data, preprocessor, config, training=True)
    if config.class_weight is not None:
        weights = config.class_weight
        if weights == "balanced":
            weights = balanced_class_weights(_labels(train_fn, train_data), model.output.shape[-1])
        train_fn = _with_sample_weights(train_fn, weights, model.output.shape[-1])
    steps = config.steps_per_epoch or _count_batches(train_fn, train_data, config, "steps_per_epoch")
    train_batches = strategy.distribute_datasets_from_function(
        _repeated(train_fn, config.data_service))
    validation_batches, validation_steps, monitor = None, None, config.monitor
    if validation_data is not None:
        validation_fn = _dataset_fn(validation_data, preprocessor, config, training=False)
        validation_steps = config.validation_steps or _count_batches(
            validation_fn, validation_data, config, "validation_steps")
        validation_batches = strategy.distribute_datasets_from_function(
            _repeated(validation_fn, None))
    elif monitor.startswith("val_"):
        monitor = monitor.removeprefix("val_")

    fit_callbacks = [
        history_file,
        AtomicModelCheckpoint(output_dir / "checkpoints" / f"best{suffix}", monitor=monitor,
                              save_best_only=True, save_weights_only=config.save_weights_only,
                              history=history_file, epochs_done=initial_epoch),
        AtomicModelCheckpoint(output_dir / "checkpoints" / f"last{suffix}",
                              save_weights_only=config.save_weights_only),
        keras.callbacks.TensorBoard(str(output_dir / "logs")),
        *([keras.callbacks.EarlyStopping(monitor, patience=config.patience,
                                         restore_best_weights=True)]
          if config.patience is not None else []),
        *callbacks,
        backup,  # last: a backup of epoch k means every other epoch-k output is written
    ]
    history = model.fit(train_batches, epochs=config.epochs, initial_epoch=initial_epoch,
                        steps_per_epoch=steps, validation_data=validation_batches,
                        validation_steps=validation_steps, callbacks=fit_callbacks,
                        shuffle=False, verbose=config.verbose)
    atomic_save(model.save, output_dir / "model.keras")
    return history


def balanced_class_weights(labels, num_classes: int | None = None) -> dict[int, float]:
    """``{class: examples / (classes * examples of class)}``, as scikit-learn's "balanced".

    Classes absent from ``labels`` get weight 1.0.

    Example:
        >>> balanced_class_weights([0, 0, 0, 1])
        {0: 0.6666666666666666, 1: 2.0}
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0 or labels.dtype.kind not in "iu" or labels.min() < 0:
        raise ValueError("balanced_class_weights needs a non-empty sequence of integer class ids "
                         ">= 0; multi-label rows have no single class to weigh.")
    counts = np.bincount(labels, minlength=num_classes or 0)
    present = np.count_nonzero(counts)
    return {c: labels.size / (present * n) if n else 1.0 for c, n in enumerate(counts.tolist())}


class EpochBackup(keras.callbacks.Callback):
    """``BackupAndRestore`` with atomic writes: the state of epoch ``k`` is one file.

    Keras' ``BackupAndRestore`` overwrites a weights file and a metadata file in
    place, so a kill mid-write leaves a file that does not load, or weights of
    one epoch with the epoch number of another. This writes
    ``epoch-0003.weights.h5`` (model and optimizer variables) under a temporary
    name, renames it, then deletes older backups; the newest file is the state.

    Example:
        >>> backup = EpochBackup("run/backup")  # doctest: +SKIP
        >>> model.fit(data, epochs=10, initial_epoch=backup.restore(model), callbacks=[backup])  # doctest: +SKIP
    """

    def __init__(self, directory):
        super().__init__()
        self.directory = pathlib.Path(directory)

    def files(self) -> list[pathlib.Path]:
        """The backups, oldest first."""
        return sorted((path for path in self.directory.glob("epoch-*.weights.h5")
                       if _backup_epoch(path) is not None), key=_backup_epoch)

    def epochs_done(self) -> int:
        """The epochs the newest backup completed (0: no backup)."""
        files = self.files()
        return _backup_epoch(files[-1]) if files else 0

    def restore(self, model: keras.Model) -> int:
        """Load the newest backup into ``model`` (compiled); the epochs it completed (0: none).

        A backup that does not load is a :class:`RunFolderError` naming it."""
        files = self.files()
        if not files:
            return 0
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        try:
            model.load_weights(files[-1])
        except (OSError, ValueError, KeyError) as error:  # h5py's, or Keras' mismatch
            raise RunFolderError(
                f"the backup {files[-1]} does not load into the model ({_first_line(error)}): "
                f"{START_AFRESH}, or delete it to train again from epoch 0.") from error
        return self.epochs_done()

    def on_epoch_end(self, epoch, logs=None):
        path = self.directory / f"epoch-{epoch + 1:04d}.weights.h5"
        atomic_save(self.model.save_weights, path)
        for old in self.files():
            if old != path:
                old.unlink()


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """``ModelCheckpoint`` that never leaves a half-written file at ``filepath``.

    Keras writes checkpoints in place; this one writes a ``.partial-`` file next to
    ``filepath`` and renames it (``os.replace``) once complete. Fixed paths only.

    A resumed run's best checkpoint competes with the earlier epochs: given the run's
    ``history`` and the ``epochs_done`` already, the best ``monitor`` value among them is
    the value to beat, the best picked in the direction Keras' ``mode`` gives (``"auto"``:
    lower for losses, else the metric's own direction, e.g. higher for precision).

    Example:
        >>> AtomicModelCheckpoint("run/checkpoints/best.keras", save_best_only=True)  # doctest: +SKIP
    """

    def __init__(self, filepath, *, history: EpochHistory | None = None, epochs_done: int = 0,
                 **kwargs):
        self.final_path = pathlib.Path(filepath)
        self.history, self.epochs_done = history, epochs_done
        super().__init__(str(_partial_path(self.final_path)), **kwargs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None and self.history is not None:
            # Keras' rule, as ModelCheckpoint applies it once the model's metrics are built.
            self._set_monitor_op()
            if self.best is None:
                self.best = self.history.best(self.monitor, self.epochs_done,
                                              higher_is_better=self.monitor_op is keras.ops.greater)
        super().on_epoch_end(epoch, logs)
        if os.path.exists(self.filepath):
            os.replace(self.filepath, self.final_path)


class EpochHistory(keras.callbacks.Callback):
    """Keeps ``history.json`` (``{metric: [value per epoch]}``) up to date after every epoch.

    A resumed run overwrites the epochs it trains again, so the file always holds
    one value per completed epoch.

    Example:
        >>> json.loads(pathlib.Path("run/history.json").read_text())["loss"]  # doctest: +SKIP
        [1.38, 1.21, 1.09]
    """

    def __init__(self, path):
        super().__init__()
        self.path = pathlib.Path(path)

    def read(self) -> dict[str, list[float]]:
        """The history so far ({} when none); a corrupt file is a :class:`RunFolderError`."""
        if not self.path.is_file():
            return {}
        try:
            history = json.loads(self.path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            history = error
        if not (isinstance(history, dict) and all(
                isinstance(values, list) and all(_is_number(v) for v in values)
                for values in history.values())):
            what = history if isinstance(history, ValueError) else "not {metric: [numbers]}"
            raise RunFolderError(f"{self.path} is not a training history ({what}): "
                                 f"{START_AFRESH}, or delete it (the earlier epochs' metrics "
                                 "are then forgotten).")
        return history

    def best(self, monitor: str, epochs: int, *, higher_is_better: bool) -> float | None:
        """The best ``monitor`` value of the first ``epochs`` epochs (None: none recorded)."""
        values = self.read().get(monitor, [])[:epochs]
        if not values:
            return None
        return max(values) if higher_is_better else min(values)

    def on_epoch_end(self, epoch, logs=None):
        history = {key: values[:epoch] for key, values in self.read().items()}
        for key, value in (logs or {}).items():
            history[key] = history.get(key, []) + [float(value)]
        atomic_write_text(self.path, json.dumps(
            {key: values for key, values in history.items() if values}, indent=1))


def atomic_save(save: Callable[[str], Any], path: pathlib.Path) -> None:
    """Call ``save(temporary_path)``, then rename the result to ``path``: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial_path(path)
    save(str(partial))
    os.replace(partial, path)


def atomic_write_text(path: pathlib.Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    atomic_save(lambda partial: pathlib.Path(partial).write_text(text, encoding="utf-8"), path)


def run_record(config: TrainConfig, model: keras.Model, model_info: dict | None,
               preprocessor, train_data) -> dict[str, Any]:
    """What defines a run (as JSON values): what ``run.json`` holds.

    ``train``: the config's fields; ``specs``: the preprocessor's; ``class_names``: the
    training data's (a source or prepared data); ``model``: ``model_info`` and the built
    model's input and output shapes, parameter count and a digest of its weight shapes.
    """
    weight_shapes = json.dumps([list(v.shape) for v in model.weights])
    structure = {"parameters": sum(int(np.prod(v.shape)) for v in model.weights),
                 "weight_shapes": hashlib.sha256(weight_shapes.encode()).hexdigest()[:16]}
    with contextlib.suppress(AttributeError):  # a subclassed model, never called, has none
        structure.update({key: keras.tree.map_structure(lambda t: list(t.shape), tensors)
                          for key, tensors in (("inputs", model.input), ("outputs", model.output))})
    record = {"train": config.to_dict()}
    if preprocessor is not None:
        record["specs"] = {m: spec.get_config() for m, spec in preprocessor.specs.items()}
    if isinstance(train_data, Source | PreparedData):
        record["class_names"] = list(train_data.class_names)
    record["model"] = {**(model_info or {}), **structure}
    return json.loads(json.dumps(record, default=_json_value))


def _json_value(value):
    """A JSON form of an object in ``model_info``: its config (specs, Keras objects), or the
    name of its function or type."""
    if hasattr(value, "get_config"):
        return value.get_config()
    return f"{type(value).__module__}.{getattr(value, '__qualname__', type(value).__qualname__)}"


def _check_resumable(output_dir: pathlib.Path, record: dict, backup: EpochBackup,
                     epochs: int) -> None:
    """Raise a :class:`RunFolderError` unless the folder's backup (if any) is of ``record``'s
    run, with no more than ``epochs`` epochs trained."""
    done = backup.epochs_done()
    if not done:  # nothing to resume: the run starts afresh, rewriting the folder's files
        return
    path = output_dir / RUN_RECORD
    if not path.is_file():
        raise RunFolderError(
            f"{output_dir} holds a backup of {_epochs(done)} ({backup.files()[-1]}) but no "
            f"{RUN_RECORD} saying what run it is (deleted, or written by an older mmzoo), so "
            f"it cannot be resumed safely: {START_AFRESH}, or choose another output_dir.")
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        previous = error
    if not (isinstance(previous, dict) and isinstance(previous.get("train"), dict)
            and isinstance(previous.get("model"), dict)):
        what = previous if isinstance(previous, ValueError) else "not a record of mmzoo's"
        raise RunFolderError(f"{path} is not a run record ({what}): {START_AFRESH}, or delete "
                             f"the folder {output_dir}.")
    changes = _differences(previous, record)
    if changes:
        shown = "; ".join(changes[:5]) + (f"; and {len(changes) - 5} more" if changes[5:] else "")
        raise RunFolderError(
            f"{output_dir} holds {_epochs(done)} of a different run, which this one would resume "
            f"({shown}): {START_AFRESH}, choose another output_dir, or undo the change.")
    if done > epochs:
        raise RunFolderError(
            f"{output_dir} holds a run trained for {_epochs(done)} already, more than "
            f"epochs={epochs}: set epochs to {done} or more to resume it, {START_AFRESH}, or "
            "choose another output_dir.")


def _differences(old: dict, new: dict) -> list[str]:
    """``"key: old -> new"`` for each field (dotted path) that differs, but RESUMABLE_FIELDS."""
    old, new = _flat(old), _flat(new)
    exempt = {f"train.{field}" for field in RESUMABLE_FIELDS}
    keys = [k for k in {**new, **old} if k not in exempt and old.get(k) != new.get(k)]
    return [_change(k, old.get(k), new.get(k)) for k in keys]


def _flat(record: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in record.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


_SHORT = reprlib.Repr()
_SHORT.maxlist, _SHORT.maxstring, _SHORT.maxother = 6, 40, 40


def _change(key: str, old, new) -> str:
    """One difference; of two long lists of the same length, the first item that differs."""
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new) > 6:
        index = next(i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b)
        key, old, new = f"{key}[{index}]", old[index], new[index]
    return f"{key}: {_SHORT.repr(old)} -> {_SHORT.repr(new)}"


def _remove_run(output_dir: pathlib.Path, backup: EpochBackup) -> None:
    """Delete what a run wrote into ``output_dir`` (when it holds one), and nothing else."""
    if not ((output_dir / RUN_RECORD).is_file() or backup.files()):
        return
    checkpoints = output_dir / "checkpoints"
    for path in [*(output_dir / name for name in RUN_FILES), *backup.files(),
                 *(checkpoints / f"{which}{suffix}" for which in ("best", "last")
                   for suffix in (".keras", ".weights.h5"))]:
        if path.is_file():
            path.unlink()
    for logs in ("train", "validation"):
        shutil.rmtree(output_dir / "logs" / logs, ignore_errors=True)
    for folder in (checkpoints, backup.directory, output_dir / "logs"):
        with contextlib.suppress(OSError):  # kept when something else is inside
            folder.rmdir()


def _check_writable(output_dir: pathlib.Path, suffix: str) -> None:
    """Make the run's folders and write a probe file in each: a :class:`RunFolderError`
    naming the one that cannot be written, or a file the run writes that is not a file."""
    for folder in (output_dir, output_dir / "checkpoints", output_dir / "backup",
                   output_dir / "logs"):
        probe = folder / f"{PARTIAL_PREFIX}probe-{os.getpid()}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            reason = ("it is not a folder" if folder.exists() and not folder.is_dir()
                      else error.strerror or _first_line(error))
            raise RunFolderError(f"cannot write into {folder} ({reason}): make it a writable "
                                 "folder, or choose another output_dir.") from error
    for path in [*(output_dir / name for name in RUN_FILES),
                 *(output_dir / "checkpoints" / f"{which}{suffix}" for which in ("best", "last"))]:
        if path.exists() and not path.is_file():
            raise RunFolderError(f"{path} is in the way: the run writes a file there; move it "
                                 "away, or choose another output_dir.")


def _backup_epoch(path: pathlib.Path) -> int | None:
    """The epoch of a backup file's name, ``epoch-0003.weights.h5`` -> 3 (None: not a backup's)."""
    number = path.name.removeprefix("epoch-").removesuffix(".weights.h5")
    return int(number) if number.isascii() and number.isdigit() else None


def _epochs(count: int) -> str:
    return f"{count} epoch{'' if count == 1 else 's'}"


def _first_line(error: BaseException) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()),
                type(error).__name__)


def _partial_path(path: pathlib.Path) -> pathlib.Path:
    return path.with_name(PARTIAL_PREFIX + path.name)  # keeps the suffix Keras checks


def _remove_partial_files(output_dir: pathlib.Path) -> None:
    """Delete what a killed run was writing when it died."""
    if output_dir.is_dir():
        for partial in output_dir.rglob(PARTIAL_PREFIX + "*"):
            partial.unlink()


def _worker_output_dir(output_dir: pathlib.Path, strategy) -> pathlib.Path:
    if is_chief(strategy):
        return output_dir
    resolver = strategy.cluster_resolver
    return output_dir / "workers" / f"{resolver.task_type}_{resolver.task_id}"


@contextlib.contextmanager
def _dtype_policy(name: str | None):
    """Build models under the ``name`` dtype policy, then restore the global one."""
    previous = keras.config.dtype_policy()
    if name is not None:
        keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    try:
        return keras.optimizers.get({"class_name": config.optimizer,
                                     "config": {"learning_rate": config.learning_rate}})
    except (ValueError, TypeError):
        raise ValueError(f"TrainConfig.optimizer={config.optimizer!r} is invalid: use a Keras "
                         "optimizer name (e.g. 'adam', 'sgd', 'adamw', 'rmsprop').") from None


def _metrics(config: TrainConfig) -> list:
    """The config's metrics for ``compile``: a registered name (``"package>Class"``, see
    ``keras.saving.register_keras_serializable``) is a new instance of that class; other
    names are Keras'."""
    registered = [keras.saving.get_registered_object(name) for name in config.metrics]
    return [made() if made else name for made, name in zip(registered, config.metrics, strict=True)]


def _loss(model: keras.Model, loss: str):
    if loss != "auto":
        try:
            keras.losses.get(loss)  # a name Keras knows: compile takes it as it is
            return loss
        except ValueError:
            raise ValueError(f"TrainConfig.loss={loss!r} is invalid: use 'auto' or a Keras loss "
                             "name (e.g. 'sparse_categorical_crossentropy').") from None
    output_layer = model.get_layer(model.output_names[0]) if model.output_names else None
    activation = getattr(getattr(output_layer, "activation", None), "__name__", "linear")
    if activation == "softmax":
        return keras.losses.SparseCategoricalCrossentropy()
    if activation == "sigmoid":
        return keras.losses.BinaryCrossentropy()
    if activation == "linear":
        if model.output.shape[-1] == 1:
            return keras.losses.BinaryCrossentropy(from_logits=True)
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    raise ValueError(f"TrainConfig.loss='auto' cannot pick a loss for a '{activation}' output; "
                     "set TrainConfig.loss to a Keras loss name.")


def _dataset_fn(data, preprocessor, config: TrainConfig, training: bool) -> DatasetFn:
    """A function ``input_context -> per-replica batches`` for any kind of training data."""
    if isinstance(data, Source | PreparedData):
        if preprocessor is None:
            raise ValueError(f"train() got a {type(data).__name__} but no preprocessor=; pass the "
                             "Preprocessor whose specs match the model.")
        return lambda context: make_dataset(
            data, preprocessor, config.batch_size, shuffle=training and config.shuffle,
            augment=training and config.augment, on_error=config.on_error, input_context=context,
            seed=config.seed)
    if callable(data) and not isinstance(data, tf.data.Dataset):
        return data
    raise ValueError(f"training and validation data must be a Source, a PreparedData or a "
                     f"function input_context -> tf.data.Dataset; got {type(data).__name__}. Wrap "
                     "a dataset as: lambda context: dataset.batch(context.get_per_replica_batch_"
                     "size(batch_size)).")


def _repeated(dataset_fn: DatasetFn, data_service: str | None) -> DatasetFn:
    """Repeat forever (``fit`` counts the steps: equal on every replica and worker)."""
    def repeated(context):
        dataset = dataset_fn(context).repeat()
        return use_data_service(dataset, data_service) if data_service else dataset
    return repeated


def _count_batches(dataset_fn: DatasetFn, data, config: TrainConfig, field: str) -> int:
    """Global batches in one pass: the data's length, read without a strategy."""
    batches = int(dataset_fn(tf.distribute.InputContext()).cardinality())
    if batches < 0 and isinstance(data, PreparedData):
        batches = data.num_examples // config.batch_size
    elif batches < 0 and isinstance(data, Source):  # bad rows, if any, are found while training
        batches = len(data.origins) // config.batch_size
    if batches < 1:
        raise ValueError(f"cannot count the batches of an epoch (the dataset's cardinality is "
                         f"{'infinite' if batches == tf.data.INFINITE_CARDINALITY else 'unknown' if batches < 0 else 0}); "
                         f"set TrainConfig.{field} to examples // batch_size.")
    return batches


def _labels(dataset_fn: DatasetFn, data) -> np.ndarray:
    """Every label of one pass over the data (to balance class weights)."""
    if isinstance(data, Source):  # the rows have them: nothing to decode
        return np.asarray([row["label"] for row in data.rows.as_numpy_iterator()])
    dataset = dataset_fn(tf.distribute.InputContext()).map(lambda features, labels: labels)
    batches = [np.asarray(labels) for labels in dataset]
    if not batches:
        raise ValueError("the training data yields no batch: it holds fewer usable examples than "
                         "TrainConfig.batch_size (see its bad-data summary above).")
    return np.concatenate(batches)


def _with_sample_weights(dataset_fn: DatasetFn, class_weight: dict[int, float],
                         num_classes: int) -> DatasetFn:
    """Batches ``(features, labels, weight of each label's class)``."""
    unknown = [c for c in class_weight if c >= num_classes]
    if unknown:
        raise ValueError(f"TrainConfig.class_weight names classes {unknown}, but the model has "
                         f"{num_classes} classes (ids 0 to {num_classes - 1}).")
    table = tf.constant([class_weight.get(c, 1.0) for c in range(num_classes)], tf.float32)

    def weighted(context):
        dataset = dataset_fn(context)
        if dataset.element_spec[1].shape.rank != 1:
            raise ValueError("TrainConfig.class_weight needs one integer class id per example; "
                             "multi-label data takes per-example weights in the dataset instead.")
        return dataset.map(lambda features, labels: (
            features, labels, tf.gather(table, tf.cast(labels, tf.int32))))

    return weighted


def _require(condition: bool, field: str, value, what: str) -> None:
    if not condition:
        raise ValueError(f"TrainConfig.{field}={value!r} is invalid: {what}.")


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

