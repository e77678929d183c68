"""``RunConfig``: the one YAML schema of a training run, for ``mmzoo train --config`` and the
zoo's recipes (:mod:`mmzoo.recipes`).

A run config names the ``modalities``, its ``data`` (manifests or folders: ``train`` and
``validation``; or, for a recipe, a TFDS dataset: ``tfds``, ``splits``...), the ``model``
(a registered ``architecture``, its ``specs`` and :func:`mmzoo.build_classifier` ``options``)
and the ``train`` section (:class:`~mmzoo.training.TrainConfig` fields). A recipe adds the
preset's ``baselines``, ``license`` and ``attribution``. Every key: docs/guides/cli.md.

Example:
    >>> config = RunConfig.load("my_run.yaml")  # doctest: +SKIP
    >>> pre = config.preprocessor(train_source)  # doctest: +SKIP
    >>> build = config.model_factory(pre, num_classes=len(train_source.class_names))  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pathlib
from typing import Any

import yaml

from mmzoo.utils import first_line

#: The keys of a run config: True for the required ones.
CONFIG_KEYS = {"name": True, "modalities": True, "data": True, "model": True, "train": True,
               "description": False, "output_dir": False, "baselines": False, "license": False,
               "attribution": False}
#: The keys of the ``data`` section: manifests or folders, or a TFDS dataset (recipes).
DATA_KEYS = ("train", "validation", "tfds", "splits", "features", "label", "audio_sample_rate")
MODEL_KEYS = ("architecture", "specs", "options")


class RunConfigError(ValueError):
    """A mistake in a run config; the message names the file and the key."""


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """A run config, checked (see the module docstring); ``path`` is the file it came from."""

    name: str
    modalities: tuple[str, ...]
    data: dict[str, Any]
    model: dict[str, Any]
    train: dict[str, Any]
    description: str | None = None
    output_dir: str | None = None
    baselines: tuple[str, ...] = ()
    license: str | None = None
    attribution: str | None = None
    path: pathlib.Path | None = None

    @classmethod
    def load(cls, path) -> RunConfig:
        """Read and check a YAML run config: every mistake is a :class:`RunConfigError`."""
        path = pathlib.Path(path)
        if path.is_dir():
            raise RunConfigError(f"config {path} is a folder: pass the run's YAML file.")
        if not path.exists():
            raise RunConfigError(f"config {path} does not exist.")
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as error:
            raise RunConfigError(
                f"config {path} is not UTF-8 text (byte {error.start} is "
                f"{error.object[error.start:error.start + 1]!r}): save it as UTF-8.") from None
        except OSError as error:
            raise RunConfigError(f"config {path} cannot be read ({error.strerror or error}).") from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            problem = getattr(error, "problem", None) or first_line(error)
            raise RunConfigError(f"config {path} is not valid YAML{where}: {problem}.") from None
        return cls.from_dict(config, path)

    @classmethod
    def from_dict(cls, config, path=None) -> RunConfig:
        """The run config of a YAML mapping, checked (``path`` names it in errors)."""
        from mmzoo.models import list_models
        from mmzoo.specs import MODALITIES, spec_from_config

        def wrong(key, what):
            return RunConfigError(f"config {path}: {key} {what}; see `mmzoo train --help` for an "
                                  "example.")

        if not isinstance(config, dict):
            raise RunConfigError(f"config {path} must be a mapping with keys "
                                 f"{[k for k, required in CONFIG_KEYS.items() if required]}.")
        missing = [k for k, required in CONFIG_KEYS.items() if required and k not in config]
        if missing:
            raise wrong(f"lacks {', '.join(missing)}", "(required)")
        unknown = sorted(set(config) - set(CONFIG_KEYS))
        if unknown:
            raise wrong(f"has unknown keys {', '.join(unknown)}",
                        f"(the keys are {list(CONFIG_KEYS)})")
        if not isinstance(config["name"], str) or not config["name"]:
            raise wrong("name", "must be a non-empty string")
        modalities = config["modalities"]
        if (not isinstance(modalities, list) or not modalities
                or not set(modalities) <= set(MODALITIES)):
            raise wrong("modalities", f"must be a non-empty list from {list(MODALITIES)}, "
                                      f"got {modalities!r}")
        for key, keys, required in (("data", DATA_KEYS, ("train", "tfds")),
                                    ("model", MODEL_KEYS, ("architecture",))):
            section = config[key]
            if not isinstance(section, dict) or not set(required) & set(section):
                raise wrong(key, f"needs a '{required[0]}' entry")
            extra = sorted(set(section) - set(keys))
            if extra:
                raise wrong(f"{key}.{extra[0]}", f"is unknown (the keys are {list(keys)})")
        for key in ("train", "validation"):
            if key in config["data"] and not isinstance(config["data"][key], str):
                raise wrong(f"data.{key}", "must be the path of a manifest or folder")
        model = config["model"]
        if model["architecture"] not in list_models():
            raise wrong("model.architecture", f"{model['architecture']!r} is not registered "
                                              "(`mmzoo list` shows the architectures)")
        for key in ("specs", "options"):
            if not isinstance(model.get(key, {}), dict):
                raise wrong(f"model.{key}", "must be a mapping")
        specs = model.get("specs", {})
        for modality in specs:
            if modality not in modalities or not isinstance(specs[modality], dict):
                raise wrong(f"model.specs.{modality}", f"must be a mapping, for one of {modalities}")
        allowed = set(model_options())
        extra = sorted(set(model.get("options", {})) - allowed)
        if extra:
            raise wrong(f"model.options.{extra[0]}", f"is unknown (the options are {sorted(allowed)})")
        if not isinstance(config["train"], dict):
            raise wrong("train", "must be a mapping of TrainConfig fields (e.g. epochs: 10)")
        unknown = sorted(set(config.get("baselines", [])) - set(modalities))
        if unknown:
            raise wrong("baselines", f"{unknown} are not among the modalities {modalities}")
        for modality, spec in specs.items():
            try:
                spec_from_config(modality, spec)
            except (TypeError, ValueError) as error:
                raise RunConfigError(f"config {path}: model.specs.{modality}: "
                                     f"{first_line(error)}") from None
        return cls(**{**config, "modalities": tuple(modalities),
                      "baselines": tuple(config.get("baselines", ())),
                      "path": pathlib.Path(path) if path is not None else None})

    def train_config(self, **changes):
        """The :class:`~mmzoo.training.TrainConfig` of the ``train`` section, with ``changes``
        (e.g. ``output_dir``); a bad field is a :class:`RunConfigError` naming it."""
        from mmzoo.training import TrainConfig

        try:
            return TrainConfig.from_dict({**self.train, **changes})
        except (TypeError, ValueError) as error:
            raise RunConfigError(f"config {self.path}: train: {first_line(error)}") from None

    def preprocessor(self, train_source, modalities=None):
        """The :class:`~mmzoo.preprocessing.Preprocessor` for ``modalities`` (default: the
        config's), adapted on ``train_source`` (a text vocabulary, say)."""
        from mmzoo.preprocessing import Preprocessor
        from mmzoo.specs import spec_from_config

        modalities = modalities or self.modalities
        specs = self.model.get("specs", {})
        made = Preprocessor(**{m: spec_from_config(m, specs.get(m, {})) for m in modalities})
        return made.adapted_on(train_source)

    def model_factory(self, pre, num_classes: int):
        """A function building the architecture for ``pre``'s specs and modalities (a subset of
        the config's names the model ``<name>_<modalities>_only``)."""
        from mmzoo.models import create_model

        options = copy.deepcopy(self.model.get("options", {}))
        modalities = pre.modalities
        options["encoders"] = {m: e for m, e in options.get("encoders", {}).items()
                               if m in modalities}
        name = self.name if modalities == self.modalities else (
            f"{self.name}_{'_'.join(modalities)}_only")
        return lambda: create_model(self.model["architecture"], modalities=modalities,
                                    num_classes=num_classes, name=name, **pre.specs, **options)

    def model_info(self) -> dict[str, Any]:
        """What defines the model besides its specs, as a run records it."""
        return {key: self.model.get(key, {}) for key in ("architecture", "options")}


def model_options() -> list[str]:
    """The :func:`mmzoo.build_classifier` arguments a config's ``model.options`` may set."""
    from mmzoo.models import build_classifier
    from mmzoo.specs import MODALITIES

    fixed = {*MODALITIES, "num_classes", "name", "include_top"}
    parameters = inspect.signature(build_classifier).parameters.values()
    return [p.name for p in parameters if p.name not in fixed and p.kind is not p.VAR_KEYWORD]
