"""The classifier contract: what an mmzoo classifier's head is, read in one place.

:func:`classification_head` ends every classifier the same way: hidden
``head_dense_<i>`` / ``head_dropout*`` layers, a ``logits`` Dense layer and a
float32 ``predictions`` Activation layer (softmax, sigmoid, or linear for logits).
:func:`classifier_head` reads that head back from a model (a fresh one, a loaded
preset, a ``.keras`` file) as a :class:`ClassifierHead`; training, evaluation,
export, presets and fine-tuning ask it instead of looking for layer names.

Example:
    >>> head = classifier_head(create_model("concat_tiny", num_classes=4))
    >>> head.task, head.from_logits, head.num_classes
    ('multiclass', False, 4)
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import layers

from mmzoo.specs import modalities as registered_modalities

#: The default final activation of each task.
TASKS = {"multiclass": "softmax", "binary": "sigmoid", "multilabel": "sigmoid"}

_LOGITS, _PREDICTIONS, _HIDDEN = "logits", "predictions", "head_"


def classification_head(x, task, num_classes, classifier_activation="auto", head_units=(),
                        dropout=0.0):
    """The head on fused features ``x``: hidden Dense layers, ``logits``, ``predictions``.

    Example:
        >>> outputs = classification_head(keras.Input((16,)), "binary", 2, head_units=(8,))
        >>> outputs.shape
        (None, 1)
    """
    for i, units in enumerate(head_units):
        x = layers.Dense(units, activation="relu", name=f"{_HIDDEN}dense_{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"{_HIDDEN}dropout_{i}")(x)
    if dropout and not head_units:
        x = layers.Dropout(dropout, name=f"{_HIDDEN}dropout")(x)
    units = 1 if task == "binary" else num_classes
    x = layers.Dense(units, name=_LOGITS)(x)
    activation = TASKS[task] if classifier_activation == "auto" else classifier_activation
    # float32 outputs keep mixed-precision training numerically safe.
    return layers.Activation(activation or "linear", dtype="float32", name=_PREDICTIONS)(x)


@dataclasses.dataclass(frozen=True, eq=False)
class ClassifierHead:
    """The head of an mmzoo classifier; make one with :func:`classifier_head`.

    Attributes:
        model: the classifier.
        logits_layer: the ``logits`` Dense layer.
        predictions_layer: the ``predictions`` Activation layer (the model's output).
        hidden_layers: the hidden ``head_dense_<i>`` / ``head_dropout*`` layers, in order.
        features: the fused features the head starts from (the fusion's output).
    """

    model: keras.Model
    logits_layer: keras.layers.Dense
    predictions_layer: keras.layers.Activation
    hidden_layers: tuple[keras.layers.Layer, ...]
    features: keras.KerasTensor

    @property
    def layers(self) -> list[keras.layers.Layer]:
        """Every head layer: the hidden ones, ``logits`` and ``predictions``."""
        return [*self.hidden_layers, self.logits_layer, self.predictions_layer]

    @property
    def activation(self) -> str:
        """The final activation's name: ``"softmax"``, ``"sigmoid"``, ``"linear"`` (logits)..."""
        return _name(self.predictions_layer.activation)

    @property
    def from_logits(self) -> bool:
        """Whether the model outputs logits (``classifier_activation=None``)."""
        return self.activation == "linear"

    @property
    def units(self) -> int:
        """Output units: one per class, except a binary head's one unit."""
        return self.logits_layer.units

    @property
    def num_classes(self) -> int:
        """Classes: ``units``, except 2 for a binary head's one sigmoid or logit unit (the
        positive class's probability or logit; its class names are negative, positive)."""
        return 2 if self.units == 1 and self.activation != "softmax" else self.units

    @property
    def task(self) -> str | None:
        """``"multiclass"`` (softmax), ``"binary"`` (one sigmoid unit), ``"multilabel"``
        (several sigmoid units), or None when the output is logits or another activation."""
        if self.activation == "softmax":
            return "multiclass"
        if self.activation == "sigmoid":
            return "binary" if self.units == 1 else "multilabel"
        return None

    def probabilities(self, outputs) -> np.ndarray:
        """The model's ``outputs`` (a NumPy batch) as probabilities: as they are, or through
        a sigmoid (one unit) or softmax when the model outputs logits."""
        outputs = np.asarray(outputs)
        if self.task is not None:
            return outputs
        if not self.from_logits:
            raise ValueError(f"cannot read probabilities from the '{self.activation}' output of "
                             f"model {self.model.name!r}; build it with classifier_activation "
                             "'auto', 'softmax', 'sigmoid' or None.")
        if self.units == 1:
            return 1.0 / (1.0 + np.exp(-outputs))
        shifted = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)

    def checked_class_names(self, class_names=None, task: str | None = None) -> list[str]:
        """``class_names`` as strings, once there is one per class (:attr:`num_classes`);
        ``"0"``, ``"1"``... for None. A ValueError names both counts (``task``, default the
        head's, says which model in the message).

        Example:
            >>> classifier_head(create_model("concat_tiny", num_classes=2)).checked_class_names()
            ['0', '1']
        """
        if class_names is None:
            return [str(i) for i in range(self.num_classes)]
        class_names = [str(name) for name in class_names]
        if len(class_names) != self.num_classes:
            raise ValueError(f"class_names has {len(class_names)} names but the "
                             f"{task or self.task} model {self.model.name!r} needs "
                             f"{self.num_classes} (one per class).")
        return class_names

    def encoders(self, modalities=None) -> dict[str, keras.Model]:
        """Each modality's encoder sub-model (the one called on its input), by modality.

        Args:
            modalities: the modalities to return, default all of the model's.

        Example:
            >>> list(classifier_head(create_model("gated_tiny")).encoders(["image"]))
            ['image']
        """
        present = [m for m in registered_modalities() if m in self.model.input]
        modalities = present if modalities is None else list(modalities)
        unknown = set(modalities) - set(present)
        if unknown:
            raise ValueError(f"modalities {sorted(unknown)} are not in model {self.model.name!r}; "
                             f"its modalities are {present}.")
        return {m: self._encoder(m) for m in modalities}

    def _encoder(self, modality):
        tensor = self.model.input[modality]
        # The Functional graph's nodes: which layer is called on the modality's input.
        for layer in self.model.layers:
            if isinstance(layer, keras.Model) and any(
                    t is tensor for node in layer._inbound_nodes for t in node.input_tensors):
                return layer
        raise ValueError(f"model {self.model.name!r} has no encoder sub-model on its "
                         f"{modality!r} input; build it with mmzoo.build_classifier.")


def classifier_head(model: keras.Model) -> ClassifierHead:
    """The head of ``model``, an mmzoo classifier (``mmzoo.build_classifier`` or
    ``mmzoo.create_model`` with ``include_top=True``, possibly saved and loaded).

    Raises:
        ValueError: ``model`` is not one: it has several outputs (e.g.
            ``with_modality_weights(model)``), no head (``include_top=False``), or
            another final layer.

    Example:
        >>> head = classifier_head(create_model("concat_tiny", task="binary", num_classes=1))
        >>> head.task, head.units, head.num_classes
        ('binary', 1, 2)
    """
    by_name = {layer.name: layer for layer in getattr(model, "layers", ())}
    logits, predictions = by_name.get(_LOGITS), by_name.get(_PREDICTIONS)
    if not (isinstance(model, keras.Model)
            and isinstance(getattr(model, "output", None), keras.KerasTensor)
            and isinstance(logits, keras.layers.Dense)
            and isinstance(predictions, keras.layers.Activation)
            and model.output is predictions.output and predictions.input is logits.output):
        raise ValueError(
            f"model {getattr(model, 'name', model)!r} is not an mmzoo classifier (one output "
            f"from a {_LOGITS!r} Dense and a {_PREDICTIONS!r} Activation layer, as "
            "mmzoo.build_classifier(include_top=True) makes); pass the classifier itself, not "
            "with_modality_weights(model) or a model without its head.")
    hidden = tuple(layer for layer in model.layers if layer.name.startswith(_HIDDEN))
    features = (hidden[0] if hidden else logits).input
    return ClassifierHead(model, logits, predictions, hidden, features)


def task_of(model: keras.Model) -> str | None:
    """An mmzoo classifier's task, or None for logits and other activations
    (``classifier_head(model).task``)."""
    return classifier_head(model).task


def loss_for(model: keras.Model) -> keras.losses.Loss:
    """The Keras loss for a single-output model's final activation.

    softmax: sparse categorical cross-entropy; sigmoid: binary cross-entropy; linear
    (logits): either, ``from_logits=True``, by the output's units. Any model whose
    output layer has an ``activation`` works, not only mmzoo classifiers.

    Example:
        >>> loss_for(create_model("concat_tiny", classifier_activation=None)).get_config()["from_logits"]
        True
    """
    if not isinstance(model.output, keras.KerasTensor):
        raise ValueError(f"model {model.name!r} has several outputs: no single loss fits them.")
    layer = model.get_layer(model.output_names[0])
    activation = _name(getattr(layer, "activation", keras.activations.linear))
    if activation == "softmax":
        return keras.losses.SparseCategoricalCrossentropy()
    if activation == "sigmoid":
        return keras.losses.BinaryCrossentropy()
    if activation == "linear":
        if model.output.shape[-1] == 1:
            return keras.losses.BinaryCrossentropy(from_logits=True)
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    raise ValueError(f"cannot pick a loss for the '{activation}' output of model "
                     f"{model.name!r}.")


def _name(activation) -> str:
    return getattr(activation, "__name__", type(activation).__name__)
