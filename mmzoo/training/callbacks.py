"""The callbacks of a run: atomic backups, checkpoints and history, all read back on resume."""

from __future__ import annotations

import json
import os
import pathlib

import keras

from mmzoo.training.run_folder import START_AFRESH, RunFolderError
from mmzoo.utils import atomic_save, atomic_write_text, first_line, partial_path


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
                f"the backup {files[-1]} does not load into the model ({first_line(error)}): "
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
        super().__init__(str(partial_path(self.final_path)), **kwargs)

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


def _backup_epoch(path: pathlib.Path) -> int | None:
    """The epoch of a backup file's name, ``epoch-0003.weights.h5`` -> 3 (None: not a backup's)."""
    number = path.name.removeprefix("epoch-").removesuffix(".weights.h5")
    return int(number) if number.isascii() and number.isdigit() else None


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
