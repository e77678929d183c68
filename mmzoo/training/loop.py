"""``train``: build, compile and fit under a strategy, resuming from the run folder."""

from __future__ import annotations

import contextlib
import functools
import json
import pathlib
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from mmzoo.data import PreparedData, Source, make_dataset
from mmzoo.distribute import get_strategy, is_chief, use_data_service
from mmzoo.models import create_model, loss_for
from mmzoo.training.callbacks import AtomicModelCheckpoint, EpochBackup, EpochHistory
from mmzoo.training.config import TrainConfig
from mmzoo.training.run_folder import (
    RUN_RECORD,
    check_resumable,
    check_writable,
    checkpoint_paths,
    remove_partial_files,
    remove_run,
    run_record,
)
from mmzoo.utils import atomic_save, atomic_write_text

DatasetFn = Callable[[tf.distribute.InputContext], tf.data.Dataset]


def train(model: str | Callable[..., keras.Model], train_data: Source | PreparedData | DatasetFn,
          config: TrainConfig | None = None, *, validation_data=None, preprocessor=None,
          model_options: dict | None = None, callbacks=(),
          strategy: tf.distribute.Strategy | None = None, model_info: dict | None = None,
          overwrite: bool = False) -> keras.callbacks.History:
    """Build, compile and fit a model under ``config.strategy``; resume when a backup exists.

    Running the same call again after a crash or kill resumes from the last
    completed epoch (see :mod:`mmzoo.training` for the output directory). The folder's
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
            files of :mod:`mmzoo.training`'s layout, nothing else) instead of resuming it.

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
        remove_run(output_dir, backup)
    check_writable(output_dir, suffix)
    remove_partial_files(output_dir)
    history_file = EpochHistory(output_dir / "history.json")
    history_file.read()  # a corrupt history is said now, not after the first epoch
    if isinstance(model, str):
        model_info = {"architecture": model, "options": model_options or {}, **(model_info or {})}

    with _dtype_policy(config.mixed_precision), strategy.scope():
        model = factory(**(model_options or {}))
        model.compile(optimizer=_optimizer(config), loss=_loss(model, config.loss),
                      metrics=_metrics(config), jit_compile=config.jit_compile)
        record = run_record(config, model, model_info, preprocessor, train_data)
        check_resumable(output_dir, record, backup, config.epochs)
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

    best, last = checkpoint_paths(output_dir, suffix)
    fit_callbacks = [
        history_file,
        AtomicModelCheckpoint(best, monitor=monitor,
                              save_best_only=True, save_weights_only=config.save_weights_only,
                              history=history_file, epochs_done=initial_epoch),
        AtomicModelCheckpoint(last, save_weights_only=config.save_weights_only),
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
    try:
        return loss_for(model)
    except ValueError as error:
        raise ValueError(f"TrainConfig.loss='auto': {error} Set TrainConfig.loss to a Keras loss "
                         "name.") from None


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
