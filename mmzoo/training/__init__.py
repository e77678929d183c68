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

The modules: ``config`` (:class:`TrainConfig`), ``loop`` (:func:`train` and how it feeds
``fit``), ``callbacks`` (the atomic backup, checkpoint and history callbacks) and
``run_folder`` (``run.json``, the resume checks, ``overwrite``).

Example:
    >>> config = TrainConfig(epochs=3, batch_size=32, output_dir="runs/demo")
    >>> history = train("concat_tiny", train_source, config, preprocessor=pre)  # doctest: +SKIP
    >>> history.model.predict(features)  # doctest: +SKIP
"""

from mmzoo.training.callbacks import AtomicModelCheckpoint, EpochBackup, EpochHistory
from mmzoo.training.config import TrainConfig
from mmzoo.training.loop import DatasetFn, balanced_class_weights, train
from mmzoo.training.run_folder import (
    RESUMABLE_FIELDS,
    RUN_FILES,
    RUN_RECORD,
    RunFolderError,
    run_record,
)

__all__ = [
    "RESUMABLE_FIELDS", "RUN_FILES", "RUN_RECORD", "AtomicModelCheckpoint", "DatasetFn",
    "EpochBackup", "EpochHistory", "RunFolderError", "TrainConfig", "balanced_class_weights",
    "run_record", "train",
]
