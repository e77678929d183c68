"""SavedModel export for TF Serving: raw inputs in, named predictions out, no Python needed.

``export_saved_model`` writes ``<base_dir>/<version>/`` (``saved_model.pb``,
``variables/``, ``assets/``, ``assets.extra/tf_serving_warmup_requests``), the layout
TF Serving watches, and ``assets.extra/class_names.json`` (every class name, in id
order, for clients; TF Serving ignores it). Its signatures (all PREDICT):

- ``serving_default``: raw batched inputs, ``text`` (strings), ``image`` (JPEG, PNG,
  GIF or BMP bytes), ``audio`` (WAV bytes); an empty string marks a modality absent.
  Each example goes through :meth:`Preprocessor.preprocess_example` in tf.data, as
  in the training pipelines, so serving preprocesses exactly as training did.
- ``preprocessed``: the model's own inputs (``text`` token ids, ``image`` pixels,
  ``audio`` waveforms and the ``*_present`` flags), checked as the pipelines' output
  would be: each example's shape, token ids in the vocabulary, finite pixels in
  [0, 255], finite samples, presence flags 0 or 1.
- ``tf_example``: serialized ``tf.train.Example`` under ``examples``, with bytes
  features ``text``, ``image``, ``audio`` (a missing feature is an absent modality).

A request that fails a check (text that is not UTF-8, bytes that do not decode, an
out-of-range value...) gets an ``InvalidArgumentError`` naming the input and the batch
indices of the bad examples, never a prediction.

Every signature returns ``probabilities``, ``logits``, ``class_ids`` (the top class;
binary: probability >= 0.5), ``class_names`` (its name) and, when the fusion weighs
modalities, ``modality_weights``.

Example:
    >>> path = export_saved_model(model, "serving/birds", preprocessor=preprocessor,  # doctest: +SKIP
    ...                           class_names=["owl", "wren"])
    >>> path  # doctest: +SKIP
    PosixPath('serving/birds/1')
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import keras
import tensorflow as tf

from mmzoo.models import classifier_head, with_modality_weights
from mmzoo.preprocessing import Preprocessor
from mmzoo.serving import DEFAULT_SIGNATURE, predict_request_of_columns
from mmzoo.specs import presence_key
from mmzoo.utils import publish_folder, staging_folder

PREPROCESSED_SIGNATURE = "preprocessed"
TF_EXAMPLE_SIGNATURE = "tf_example"
#: The function alias the Cloud TPU inference converter looks for.
TPU_FUNCTION_ALIAS = "tpu_func"
WARMUP_FILE = pathlib.Path("assets.extra") / "tf_serving_warmup_requests"
#: Every class name, in id order, as a JSON list (the signatures return the top class's only).
CLASS_NAMES_FILE = pathlib.Path("assets.extra") / "class_names.json"
# A dataset is built per request: its graph rewrites and autotuning would cost more than they save.
_PER_REQUEST = tf.data.Options()
_PER_REQUEST.experimental_optimization.apply_default_optimizations = False
_PER_REQUEST.autotune.enabled = False
#: The most batch indices an error lists.
_LISTED = 100


def export_saved_model(model, base_dir, version: int | None = None, *, preprocessor=None,
                       class_names=None, overwrite: bool = False, tpu: bool = False) -> pathlib.Path:
    """Export a classifier for TF Serving as ``<base_dir>/<version>``; returns that folder.

    The SavedModel is written into a hidden temporary folder of ``base_dir`` and
    renamed into place when complete: a server watching ``base_dir`` never sees a
    half-written version.

    Args:
        model: a classifier from :func:`mmzoo.create_model` / :func:`mmzoo.build_classifier`
            (softmax or sigmoid head), or a preset name, folder or URL
            (:func:`mmzoo.from_preset`), whose preprocessor and class names are then used.
        base_dir: the model's folder, holding one integer-named folder per version (an
            integer-named entry that is not a folder stops the export, named).
        version: the version to write; None writes the highest existing version + 1.
        preprocessor: the :class:`~mmzoo.preprocessing.Preprocessor` the model was
            trained with (text vocabulary adapted).
        class_names: one name per class (binary: negative, positive); None: the
            preset's, or ``"0"``, ``"1"``...
        overwrite: replace an existing ``version``.
        tpu: compile the ``preprocessed`` signature's model call with XLA and save it
            under the function alias ``"tpu_func"`` for the Cloud TPU inference converter.

    Example:
        >>> export_saved_model("gated_lenet_avmnist", "serving/avmnist")  # doctest: +SKIP
        PosixPath('serving/avmnist/1')
    """
    if isinstance(model, (str, os.PathLike)):
        from mmzoo.zoo import load_preset

        preset = load_preset(model)
        model = preset.model()
        preprocessor = preprocessor or preset.preprocessor
        class_names = class_names or preset.class_names
    task = _task(model)
    class_names = classifier_head(model).checked_class_names(class_names, task)
    _check_preprocessor(model, preprocessor)

    base_dir = pathlib.Path(base_dir)
    version = _version(base_dir, version, overwrite)
    try:
        base_dir.mkdir(parents=True, exist_ok=True)
        staging = staging_folder(base_dir, prefix=f".tmp-{version}-")
    except OSError as error:
        raise type(error)(f"cannot write in {base_dir} ({error.strerror}: {error.filename}); "
                          "export to a folder you can write to.") from error
    try:
        module, signatures, options = _serving_module(model, preprocessor, task, class_names, tpu)
        tf.saved_model.save(module, str(staging), signatures=signatures, options=options)
        _write_warmup_requests(staging / WARMUP_FILE, preprocessor, base_dir.name)
        (staging / CLASS_NAMES_FILE).write_text(json.dumps(class_names), encoding="utf-8")
        publish_folder(staging, base_dir / str(version), replace=overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return base_dir / str(version)


def _serving_module(model, preprocessor, task, class_names, tpu):
    """The ``tf.Module`` to save, its signatures and its save options."""
    outputs_model = _outputs_model(model)
    feature_specs = {t.name: tf.TensorSpec((None, *t.shape[1:]), t.dtype, name=t.name)
                     for t in model.inputs}
    raw_specs = {m: tf.TensorSpec([None], tf.string, name=m) for m in preprocessor.modalities}

    def predict(features):
        outputs = outputs_model(features, training=False)
        probabilities = outputs["probabilities"]
        class_ids = (tf.cast(probabilities[:, 0] >= 0.5, tf.int64) if task == "binary"
                     else tf.argmax(probabilities, axis=-1))
        return {**{k: tf.cast(v, tf.float32) for k, v in outputs.items()}, "class_ids": class_ids}

    predict_numbers = tf.function(predict, input_signature=[feature_specs], autograph=False)
    # XLA compiles one program per batch size: right for TPUs, not for the raw-input path.
    predict_xla = tf.function(predict, input_signature=[feature_specs], autograph=False,
                              jit_compile=True) if tpu else predict_numbers
    names = tf.constant(class_names)

    def named(outputs):
        return {**outputs, "class_names": tf.gather(names, outputs["class_ids"])}

    def predict_raw(raw):
        return named(predict_numbers(_preprocess_raw(preprocessor, raw)))

    @tf.function(input_signature=[raw_specs], autograph=False)
    def serve_raw(raw):
        return predict_raw(_checked_batch(raw, {modality: () for modality in raw}))

    @tf.function(input_signature=[feature_specs], autograph=False)
    def serve_preprocessed(features):
        # Checked outside the XLA function: the model's program stays the one TPUs compile.
        return named(predict_xla(_check_features(features, preprocessor)))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
                 autograph=False)
    def serve_tf_example(examples):
        examples = _checked_batch({"examples": examples}, {"examples": ()})["examples"]
        # The parsed inputs are one string per example: serve_raw's checks would hold.
        return predict_raw(_parse_examples(examples, preprocessor.modalities))

    module = tf.Module(name="mmzoo_serving")
    # The tf.Variables themselves, not Keras' wrappers: TF Serving's (TF1) loader restores the
    # variables the functions read only when those are what the SavedModel tracks.
    module.model_variables = [variable.value for variable in model.variables]
    module.preprocessor = preprocessor  # its text vocabulary's lookup table
    signatures = {DEFAULT_SIGNATURE: serve_raw, PREPROCESSED_SIGNATURE: serve_preprocessed,
                  TF_EXAMPLE_SIGNATURE: serve_tf_example}
    options = tf.saved_model.SaveOptions(
        function_aliases={TPU_FUNCTION_ALIAS: predict_xla} if tpu else None)
    return module, signatures, options


def _preprocess_raw(preprocessor: Preprocessor, raw: dict) -> dict:
    """A batch of raw inputs to features, one example at a time in tf.data like the pipelines.

    An example whose input cannot be preprocessed (text that is not UTF-8, undecodable
    bytes) stops the call with an ``InvalidArgumentError`` naming the input and the examples.
    """
    features, checks = {}, []
    for modality, converter in preprocessor.converters.items():
        def preprocess(value, modality=modality, converter=converter):
            example = preprocessor.preprocess_example({modality: converter.checked_request(value)})
            return example[modality], example[presence_key(modality)]

        (features[modality], features[presence_key(modality)]), check = _each_example(
            raw[modality], preprocess, modality, f"are not {converter.expected_content} (an "
            f"empty string marks an absent {modality})")
        checks.append(check)
    return _after(checks, features)


def _parse_examples(examples, modalities) -> dict:
    """Serialized ``tf.train.Example``s to one string tensor per modality ("" where absent);
    one that does not parse fails the call naming ``examples`` and its batch index."""
    features = {m: tf.io.FixedLenFeature([], tf.string, default_value="") for m in modalities}
    parsed, check = _each_example(
        examples, lambda example: tf.io.parse_single_example(example, features), "examples",
        "are not serialized tf.train.Examples whose features (" + ", ".join(modalities)
        + ") hold one bytes value each")
    return _after([check], parsed)


def _each_example(values, function, name: str, problem: str):
    """``function`` applied to each string of ``values`` in tf.data, the results batched, and
    an assert naming ``name`` and the batch indices of the values where ``function`` failed."""
    # ignore_errors drops the values that fail, so the indices left say which did; an empty
    # string appended (an absent input, an empty Example) keeps the batch from being empty.
    values = tf.concat([values, [""]], axis=0)
    count = tf.shape(values, out_type=tf.int64)[0]
    indices, outputs = (
        tf.data.Dataset.from_tensor_slices((tf.range(count), values))
        .map(lambda index, value: (index, function(value)))
        .ignore_errors()
        .with_options(_PER_REQUEST)
        .batch(count)
        .get_single_element())
    failed = tf.sparse.to_dense(tf.sets.difference(tf.range(count)[None], indices[None]))[0]
    outputs = tf.nest.map_structure(lambda output: output[:-1], outputs)
    return outputs, _fail_at(name, failed, problem)


def _check_features(features: dict, preprocessor: Preprocessor) -> dict:
    """The ``preprocessed`` signature's inputs once checked as the pipelines' output would be:
    the shapes (:func:`_checked_batch`), token ids, finite pixels in [0, 255], finite samples,
    presence flags 0 or 1. A failed check names the input (and the bad examples' indices)."""
    converters = preprocessor.converters
    features = _checked_batch(features, {name: converters[name].spec.shape if name in converters
                                         else () for name in features})
    checks = []
    for name, value in features.items():
        if name in converters:
            good, problem = converters[name].valid_features(value)
        else:
            good, problem = (value == 0) | (value == 1), "have a presence flag other than 0 or 1"
        bad = tf.logical_not(tf.reduce_all(good, axis=tf.range(1, tf.rank(good))))
        checks.append(_fail_at(name, tf.where(bad)[:, 0], problem))
    return _after(checks, features)


def _checked_batch(inputs: dict, shapes: dict) -> dict:
    """``inputs`` once each is a batch of examples of its shape in ``shapes``, all with the same
    number of examples, at least one; else an InvalidArgumentError naming the input."""
    checks = []
    for name, value in inputs.items():
        # The signatures' shapes are not enforced (TF Serving feeds tensors as they come), yet the
        # graph optimizer takes them as known, so a check of tf.rank or tf.shape(value)[1:]
        # could be folded away; the shape compared as text cannot.
        shape = tf.strings.reduce_join(tf.strings.as_string(tf.shape(value)), separator=",")
        pattern = "[0-9]+" + "".join(f",{size}" for size in shapes[name])
        right = tf.strings.regex_full_match(shape, pattern)
        expected = str((None, *shapes[name])).replace("None", "examples")
        checks.append(tf.debugging.Assert(
            right, [f"{name}: the batch must have shape {expected}; got", tf.shape(value)],
            summarize=_LISTED))
    inputs = _after(checks, inputs)
    first = next(iter(inputs))
    batch = tf.shape(inputs[first])[0]
    checks = [tf.debugging.Assert(batch > 0, [f"{first}: the request has no examples; send at "
                                              "least one."])]
    checks += [tf.debugging.Assert(
        tf.equal(tf.shape(value)[0], batch),
        [f"{name}: every input needs one value per example; {name} has", tf.shape(value)[0],
         f"but {first} has", batch]) for name, value in inputs.items() if name != first]
    return _after(checks, inputs)


def _fail_at(name: str, indices, problem: str):
    """An assert that fails (InvalidArgumentError) unless ``indices`` is empty, naming ``name``
    and the batch indices: ``[image: the examples at these batch indices <problem>:] [4]``."""
    return tf.debugging.Assert(tf.equal(tf.size(indices), 0),
                               [f"{name}: the examples at these batch indices {problem}:", indices],
                               summarize=_LISTED)


def _after(checks: list, tensors: dict) -> dict:
    """``tensors``, computed only once every check has passed."""
    with tf.control_dependencies(checks):
        return {name: tf.identity(value) for name, value in tensors.items()}


def _outputs_model(model: keras.Model) -> keras.Model:
    """The model (shared weights) returning ``probabilities``, ``logits``, ``modality_weights``."""
    outputs = {"probabilities": model.output, "logits": classifier_head(model).logits_layer.output}
    try:
        outputs["modality_weights"] = with_modality_weights(model).output["modality_weights"]
    except ValueError:  # the fusion does not weigh modalities
        pass
    return keras.Model(model.input, outputs, name=f"{model.name}_serving")


def _task(model: keras.Model) -> str:
    head = classifier_head(model)
    if head.task is None:
        raise ValueError(f"model {model.name!r} ends in a {head.activation!r} activation; export "
                         "needs probabilities: build it with classifier_activation='auto' "
                         "(softmax or sigmoid).")
    return head.task


def _check_preprocessor(model, preprocessor) -> None:
    if not isinstance(preprocessor, Preprocessor):
        raise ValueError("export_saved_model needs preprocessor=, the mmzoo.preprocessing."
                         f"Preprocessor the model was trained with (got {preprocessor!r}).")
    preprocessor.check_matches(model)


def _version(base_dir: pathlib.Path, version, overwrite) -> int:
    """The version to write, once ``base_dir`` is known to hold only version folders."""
    if base_dir.exists() and not base_dir.is_dir():
        raise NotADirectoryError(f"{base_dir} is a file, not a folder: base_dir is the model's "
                                 "folder, holding one folder per version; pass a folder's path.")
    numbered = [p for p in base_dir.glob("*") if p.name.isdigit()]
    for path in numbered:
        if not path.is_dir():
            raise FileExistsError(
                f"{path} is not a version folder but has a version's name: a server watching "
                f"{base_dir} may take it for version {int(path.name)}. Move or delete it, then "
                "export again.")
    existing = [int(p.name) for p in numbered]
    if version is None:
        return max(existing, default=0) + 1
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"version={version!r} is invalid: TF Serving versions are integers >= 1.")
    if version in existing and not overwrite:
        raise FileExistsError(f"{base_dir / str(version)} exists; pass another version, "
                              "version=None for the next one, or overwrite=True to replace it.")
    return version


def _write_warmup_requests(path: pathlib.Path, preprocessor: Preprocessor, model_name: str):
    """TF Serving's warm-up file: a TFRecord of ``PredictionLog``s it replays on load.

    Two requests: one example with every modality present, then (several modalities)
    one example per modality with that modality absent.
    """
    from tensorflow_serving.apis import prediction_log_pb2

    samples = {m: converter.sample_input() for m, converter in preprocessor.converters.items()}
    modalities = preprocessor.modalities
    batches = [{m: [samples[m]] for m in modalities}]
    if len(modalities) > 1:
        batches.append({m: [type(samples[m])() if m == absent else samples[m] for absent in modalities]
                        for m in modalities})
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for batch in batches:
            request = predict_request_of_columns(model_name, batch)
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())

