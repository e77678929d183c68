"""make_dataset: a batched ``tf.data.Dataset`` of ``(features, label)`` that feeds the models' inputs."""

from __future__ import annotations

import tensorflow as tf

from mmzoo.data.checking import decoded_in_one_pass
from mmzoo.data.errors import BadDataReport, check_on_error
from mmzoo.data.prepare import PreparedData
from mmzoo.data.sources import Source
from mmzoo.preprocessing.image import augment_image
from mmzoo.specs import presence_key, spec_from_config

AUTOTUNE = tf.data.AUTOTUNE


def make_dataset(data: Source | PreparedData, preprocessor, batch_size: int, *,
                 shuffle: bool = False, augment: bool = False, cache: bool | str = False,
                 on_error: str = "raise", report: BadDataReport | None = None,
                 input_context=None, shuffle_buffer: int = 1024, drop_remainder: bool = True,
                 seed: int | None = None) -> tf.data.Dataset:
    """Batches of ``(features, label)`` whose keys and shapes are the model's inputs.

    Args:
        data: a :class:`~mmzoo.data.Source` (raw files, decoded on the fly in TF ops;
            audio other than WAV in Python, a batch of rows at a time) or :class:`~mmzoo.data.PreparedData`
            (TFRecords from :func:`~mmzoo.data.prepare`: TF ops only, TPU-friendly).
        preprocessor: a :class:`~mmzoo.preprocessing.Preprocessor` (text vocabulary adapted).
        batch_size: the global batch size; with ``input_context`` each replica gets its share.
        shuffle: shuffle examples (for training).
        augment: augment images (random flips and shifts; for training).
        cache: cache decoded examples in memory (True) or in a file (a path).
        on_error: ``"raise"`` or ``"skip"`` for bad examples of a Source, found while
            decoding, in the same pass (see :func:`~mmzoo.data.checking.decoded_in_one_pass`):
            raise names the row, the file and the reason; skip counts and logs a summary at
            the end of each pass. A prepared folder is clean already.
        report: a :class:`~mmzoo.data.BadDataReport` that each pass over a Source fills.
        input_context: a ``tf.distribute.InputContext`` (from
            ``strategy.distribute_datasets_from_function``): shards the input per worker.
        drop_remainder: keep batch shapes static (needed on TPU).

    Example:
        >>> source = from_manifest("train.csv")  # doctest: +SKIP
        >>> pre = Preprocessor(text=TextSpec(), image=ImageSpec()).adapt(source.texts())  # doctest: +SKIP
        >>> dataset = make_dataset(source, pre, batch_size=32, shuffle=True)  # doctest: +SKIP
        >>> model.fit(dataset)  # doctest: +SKIP
    """
    check_on_error(on_error)
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    if isinstance(data, PreparedData):
        dataset = _prepared_examples(data, preprocessor, input_context, shuffle, cache,
                                     shuffle_buffer, seed)
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
        dataset = dataset.map(_parser(data, preprocessor), num_parallel_calls=AUTOTUNE)
    else:
        rows = data.rows
        if input_context is not None:
            rows = rows.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        source = Source(**{**data.__dict__, "rows": rows})
        dataset = decoded_in_one_pass(source, preprocessor, on_error, report)
        dataset = _cache_and_shuffle(dataset, cache, shuffle, shuffle_buffer, seed)
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if augment and "image" in preprocessor.specs:
        dataset = _augmented(dataset, preprocessor.specs["image"], seed)
    return dataset.prefetch(AUTOTUNE)


def _cache_and_shuffle(dataset, cache, shuffle, shuffle_buffer, seed):
    if cache:
        dataset = dataset.cache("" if cache is True else str(cache))
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return dataset


def _prepared_examples(data: PreparedData, preprocessor, input_context, shuffle, cache,
                       shuffle_buffer, seed):
    for modality, spec in preprocessor.specs.items():
        if modality not in data.specs:
            raise ValueError(f"{data.directory} holds no {modality}: it was prepared for "
                             f"{sorted(data.specs)}; prepare it again with a {type(spec).__name__}.")
        stored = spec_from_config(modality, data.specs[modality])
        if modality != "text" and stored.shape != spec.shape or (
                modality == "audio" and stored.sample_rate != spec.sample_rate):
            raise ValueError(f"{data.directory} was prepared with {stored}, but the preprocessor "
                             f"has {spec}: prepare it again with this spec, or use the stored one.")
    files = tf.data.Dataset.from_tensor_slices(list(data.shards))
    if input_context is not None:
        files = files.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if shuffle:
        files = files.shuffle(len(data.shards), seed=seed)
    records = files.interleave(tf.data.TFRecordDataset, cycle_length=min(len(data.shards), 8),
                               num_parallel_calls=AUTOTUNE, deterministic=not shuffle)
    if input_context is None or input_context.num_input_pipelines == 1:
        records = records.apply(tf.data.experimental.assert_cardinality(data.num_examples))
    return _cache_and_shuffle(records, cache, shuffle, shuffle_buffer, seed)


def _parser(data: PreparedData, preprocessor):
    """Parse a batch of serialized records into features (vectorized: no per-example Python)."""
    description = data.feature_description()

    def parse(records):
        parsed = tf.io.parse_example(records, description)
        features = {}
        for modality, spec in preprocessor.specs.items():
            value = parsed[modality]
            if modality == "text":
                value = tf.cast(preprocessor.text_vectorizer(value), tf.int32)
            elif modality == "image":
                value = tf.cast(tf.io.decode_raw(value, tf.uint8), tf.float32)
            else:
                value = tf.io.decode_raw(value, tf.float32)
            features[modality] = tf.reshape(value, (records.shape[0] or -1, *spec.shape))
            features[presence_key(modality)] = parsed[presence_key(modality)]
        label = parsed["label"] if data.multi_label else tf.cast(parsed["label"], tf.int32)
        return features, label

    return parse


def _augmented(dataset, spec, seed):
    """Augment each batch's images, with stateless seeds drawn from ``tf.data.Dataset.random``."""
    def augment(batch, batch_seed):
        features, label = batch
        images = features["image"]
        seeds = tf.random.experimental.stateless_split(batch_seed, tf.shape(images)[0])
        images = tf.map_fn(lambda args: augment_image(args[0], args[1], spec), (images, seeds),
                           fn_output_signature=tf.TensorSpec(spec.shape, tf.float32))
        return {**features, "image": images}, label

    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    return tf.data.Dataset.zip(dataset, seeds).map(augment, num_parallel_calls=AUTOTUNE)
