"""``build_classifier``: any subset of modalities, any encoder, any fusion, any head."""

from __future__ import annotations

import copy
import inspect

import keras

from mmzoo.encoders import build_encoder, config_options
from mmzoo.fusion import MissingModalityEmbedding, ModalityDropout, ModalityPresence, get_fusion
from mmzoo.models.head import TASKS, classification_head
from mmzoo.specs import modalities, presence_key, spec_from_config


def build_classifier(text=None, image=None, audio=None, *, encoders=None, fusion="concat",
                     num_classes=None, task="multiclass", include_top=True, pooling="avg",
                     classifier_activation="auto", embedding_dim=64, head_units=(), dropout=0.0,
                     modality_dropout=0.0, name="mmzoo_classifier", **other_specs) -> keras.Model:
    """A Functional multimodal classifier over any subset of text, image and audio.

    Inputs (a dict, by name): each modality given (``text``, ``image``, ``audio``,
    shaped by its spec) and its presence flag (``text_present``, ...: float32
    1.0/0.0 per example). An absent modality contributes nothing: its embedding
    is replaced by a learned "missing" vector and weighting fusions mask it out.

    The model is a :class:`MultimodalClassifier`, whose config is these arguments,
    unless an encoder or the fusion is a layer object: then a plain Functional model
    (its config is its graph of registered layers).

    Args:
        text: a :class:`~mmzoo.TextSpec`, or None to leave text out.
        image: an :class:`~mmzoo.ImageSpec`, or None to leave images out.
        audio: an :class:`~mmzoo.AudioSpec`, or None to leave audio out.
        encoders: per modality, a kind name, a dict of encoder arguments or a
            ``keras.Model`` (see :func:`mmzoo.encoders.build_encoder`).
        fusion: a fusion name (:func:`mmzoo.fusion.list_fusions`), a dict
            ``{"name": ..., **options}`` or a fusion ``keras.layers.Layer``.
        num_classes: classes of a multi-class or multi-label head (binary: 1 or 2).
        task: ``"multiclass"``, ``"binary"`` (one sigmoid unit) or ``"multilabel"``.
        include_top: False returns the fused features instead of predictions.
        pooling: ``"avg"`` or ``"max"``: how encoders pool feature maps and tokens.
        classifier_activation: ``"auto"`` (softmax or sigmoid by task), None for
            logits, or any Keras activation name.
        embedding_dim: each encoder's output size, unless its encoder dict says.
        head_units: sizes of hidden Dense layers between fusion and classifier.
        dropout: dropout rate in the head.
        modality_dropout: training-time rate of marking a present modality absent.
        name: the model's name.
        **other_specs: the specs of registered modalities
            (:func:`mmzoo.converters.register_converter`), by modality name.

    Example:
        >>> model = build_classifier(text=TextSpec(1000, 16), image=ImageSpec(32, 32, 3),
        ...                          fusion="attention", num_classes=5)
        >>> sorted(model.input)
        ['image', 'image_present', 'text', 'text_present']
    """
    arguments = dict(text=text, image=image, audio=audio, encoders=encoders, fusion=fusion,
                     num_classes=num_classes, task=task, include_top=include_top,
                     pooling=pooling, classifier_activation=classifier_activation,
                     embedding_dim=embedding_dim, head_units=head_units, dropout=dropout,
                     modality_dropout=modality_dropout, **other_specs)
    if _expressible_as_config(encoders, fusion):
        return MultimodalClassifier(**arguments, name=name)
    return keras.Model(*_classifier_graph(**arguments), name=name)


@keras.saving.register_keras_serializable(package="mmzoo")
class MultimodalClassifier(keras.Model):
    """The Functional model of :func:`build_classifier`, whose config is its builder arguments.

    As a KerasHub backbone, ``get_config()`` returns the constructor arguments (specs as
    their ``get_config()`` dicts, encoders and fusion as names or option dicts) and
    ``from_config`` rebuilds the graph from them: a ``.keras`` file or a preset records how
    the model was built, so a new head is a rebuild with other arguments. Build it with
    :func:`build_classifier` (same arguments, its defaults for those left out); the layers
    and weights are those of the plain Functional model. The config leaves out what only
    made the starting weights: the text vocabulary (the preprocessor's) and a backbone
    encoder's ``weights``.

    Example:
        >>> model = build_classifier(image=ImageSpec(28, 28, 1), num_classes=10)
        >>> config = model.get_config()
        >>> config["num_classes"], config["fusion"]
        (10, 'concat')
        >>> rebuilt = MultimodalClassifier.from_config({**model.get_config(), "num_classes": 3})
    """

    def __init__(self, *, name="mmzoo_classifier", **arguments):
        keras_options = {k: arguments.pop(k) for k in ("trainable", "dtype") if k in arguments}
        arguments = {**_builder_defaults(), **arguments}
        if not _expressible_as_config(arguments["encoders"], arguments["fusion"]):
            raise ValueError("MultimodalClassifier takes encoders and fusion as names or option "
                             "dicts; for a layer object use mmzoo.build_classifier, which "
                             "returns a plain Functional model then.")
        super().__init__(*_classifier_graph(**arguments), name=name, **keras_options)
        for modality in modalities():  # what preprocessing learned (a vocabulary) is the
            if arguments.get(modality) is not None:  # preprocessor's, not the graph's
                arguments[modality] = arguments[modality].unlearned()
        # A backbone's starting weights ("imagenet", "pretrained", a file) are not needed to
        # rebuild the model (its weights travel with it) and must not be looked for again.
        encoders = arguments["encoders"] or {}
        recorded = {m: config_options(arguments[m], encoders.get(m)) for m in modalities()
                    if arguments.get(m) is not None}
        arguments["encoders"] = {m: e for m, e in recorded.items() if e is not None} or (
            arguments["encoders"])
        self._builder_arguments = copy.deepcopy(arguments)

    def get_config(self) -> dict:
        config = copy.deepcopy(self._builder_arguments)
        for modality in modalities():
            if config.get(modality) is not None:
                config[modality] = config[modality].get_config()
        config["head_units"] = list(config["head_units"])
        return {"name": self.name, "trainable": self.trainable, **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for modality in modalities():
            if isinstance(config.get(modality), dict):
                config[modality] = spec_from_config(modality, config[modality])
        return cls(**config)


def _builder_defaults() -> dict:
    """:func:`build_classifier`'s default arguments (its ``name`` aside): one list of them."""
    parameters = inspect.signature(build_classifier).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not p.empty and p.name != "name"}


def _expressible_as_config(encoders, fusion) -> bool:
    """Whether ``encoders`` and ``fusion`` are names or option dicts (no layer objects)."""
    def plain(value):
        return value is None or isinstance(value, str) or (
            isinstance(value, dict) and not any(isinstance(v, keras.layers.Layer)
                                                for v in value.values()))

    return plain(fusion) and all(plain(encoder) for encoder in (encoders or {}).values())


def _classifier_graph(text, image, audio, *, encoders, fusion, num_classes, task, include_top,
                      pooling, classifier_activation, embedding_dim, head_units, dropout,
                      modality_dropout, **other_specs):
    """The inputs (a dict) and output of :func:`build_classifier`'s graph."""
    unknown = sorted(set(other_specs) - set(modalities()))
    if unknown:
        raise TypeError(f"build_classifier() got unexpected keyword arguments {unknown}; "
                        f"the modalities are {list(modalities())}.")
    given = {"text": text, "image": image, "audio": audio, **other_specs}
    specs = {m: given[m] for m in modalities() if given.get(m) is not None}
    _validate(specs, encoders, task, num_classes, include_top, pooling)
    encoders = dict(encoders or {})

    inputs = {m: spec.keras_input() for m, spec in specs.items()}
    flags = {presence_key(m): keras.Input(shape=(), dtype="float32", name=presence_key(m))
             for m in specs}
    embeddings = [
        build_encoder(m, spec, encoders.get(m), embedding_dim=embedding_dim, pooling=pooling)(inputs[m])
        for m, spec in specs.items()
    ]
    presence = ModalityPresence(name="presence")(list(flags.values()))
    if modality_dropout:
        presence = ModalityDropout(modality_dropout, name="modality_dropout")(presence)
    embeddings = MissingModalityEmbedding(name="missing_modality")(embeddings, presence)

    fusion_layer = get_fusion(fusion, expose_weights=True)  # for with_modality_weights
    x = fusion_layer(embeddings, presence=presence)
    if getattr(fusion_layer, "return_weights", False):
        x = x[0]
    if include_top:
        x = classification_head(x, task, num_classes, classifier_activation, head_units, dropout)
    return {**inputs, **flags}, x


def with_modality_weights(model: keras.Model) -> keras.Model:
    """The same model (shared weights) returning ``{"predictions", "modality_weights"}``.

    ``modality_weights`` is ``(batch, modalities)``, in the order text, image,
    audio of those present in the model; only for fusions that weigh modalities.

    Example:
        >>> weighted = with_modality_weights(create_model("attention_tiny"))
        >>> sorted(weighted.output)
        ['modality_weights', 'predictions']
    """
    weighing = [layer for layer in model.layers if getattr(layer, "return_weights", False)]
    if not weighing:
        raise ValueError(f"model {model.name!r} has no fusion that computes modality weights; "
                         "build it with fusion='weighted_sum', 'gated' or 'attention'.")
    _, weights = weighing[0].output
    return keras.Model(model.input, {"predictions": model.output, "modality_weights": weights},
                       name=f"{model.name}_with_modality_weights")


def _validate(specs, encoders, task, num_classes, include_top, pooling):
    if not specs:
        raise ValueError("build_classifier needs at least one modality: pass text=TextSpec(...), "
                         "image=ImageSpec(...) and/or audio=AudioSpec(...).")
    if task not in TASKS:
        raise ValueError(f"task={task!r} is unknown; use one of {list(TASKS)}.")
    if pooling not in ("avg", "max"):
        raise ValueError(f"pooling={pooling!r} is unknown; use 'avg' or 'max'.")
    unused = set(encoders or {}) - set(specs)
    if unused:
        raise ValueError(f"encoders names {sorted(unused)} but no spec was given for them; "
                         f"the model's modalities are {list(specs)}.")
    if not include_top:
        return
    if task == "binary":
        if num_classes not in (None, 1, 2):
            raise ValueError(f"num_classes={num_classes!r} with task='binary': a binary head has "
                             "one sigmoid unit; pass num_classes=1 or 2, or task='multiclass'.")
    elif not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes={num_classes!r} is invalid: a {task} head needs an "
                         "integer num_classes >= 1.")
