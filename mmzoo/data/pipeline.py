"""make_dataset: a batched ``tf.data.Dataset`` of ``(features, label)`` that feeds the models' inputs."""

from __future__ import annotations

import tensorflow as tf

from mmzoo.data.checking import decoded_in_one_pass
from mmzoo.data.errors import BadDataReport, check_on_error
from mmzoo.data.prepare import PreparedData
from mmzoo.data.sources import Source
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
    if augment:
        dataset = _augmented(dataset, preprocessor.converters, seed)
    return dataset.prefetch(AUTOTUNE)


def _cache_and_shuffle(dataset, cache, shuffle, shuffle_buffer, seed):
    if cache:
        dataset = dataset.cache("" if cache is True else str(cache))
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return dataset


def _prepared_examples(data: PreparedData, preprocessor, input_context, shuffle, cache,
                       shuffle_buffer, seed):
    for modality, converter in preprocessor.converters.items():
        spec = converter.spec
        if modality not in data.specs:
            raise ValueError(f"{data.directory} holds no {modality}: it was prepared for "
                             f"{sorted(data.specs)}; prepare it again with a {type(spec).__name__}.")
        stored = spec_from_config(modality, data.specs[modality])
        if converter.stored_mismatch(stored):
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
        for modality, converter in preprocessor.converters.items():
            features[modality] = tf.reshape(converter.parse_records(parsed[modality]),
                                            (records.shape[0] or -1, *converter.spec.shape))
            features[presence_key(modality)] = parsed[presence_key(modality)]
        label = parsed["label"] if data.multi_label else tf.cast(parsed["label"], tf.int32)
        return features, label

    return parse


def _augmented(dataset, converters, seed):
    """Augment each batch's inputs of every modality that augments (images: flips and
    shifts), with stateless seeds drawn from ``tf.data.Dataset.random``."""
    augmenting = {m: converter for m, converter in converters.items() if converter.augments}
    if not augmenting:
        return dataset

    def augment(batch, batch_seed):
        features, label = batch
        features = dict(features)
        size = tf.shape(features[presence_key(next(iter(augmenting)))])[0]
        seeds = tf.random.experimental.stateless_split(batch_seed, size)
        for modality, converter in augmenting.items():
            features[modality] = converter.augment(features[modality], seeds)
        return features, label

    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    return tf.data.Dataset.zip(dataset, seeds).map(augment, num_parallel_calls=AUTOTUNE)
