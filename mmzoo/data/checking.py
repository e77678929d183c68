"""One decoding pass over a source: finds the examples that cannot be preprocessed."""

from __future__ import annotations

import dataclasses

import tensorflow as tf
import tqdm

from mmzoo.data.errors import BadDataReport, Problem, check_on_error, handle, logger
from mmzoo.data.sources import INDEX_KEY, Source


def decoded(source: Source, preprocessor, deterministic: bool = True,
            raw_text: bool = False) -> tf.data.Dataset:
    """``source``'s rows loaded and preprocessed in parallel: ``(features, label, index)``.

    With ``raw_text``, ``features["text"]`` is the string rather than token ids.
    """
    def decode(row):
        features = preprocessor.preprocess_example(source.load(row, preprocessor.specs))
        if raw_text and "text" in features:
            features["text"] = row.get("text", tf.constant(""))
        return features, row["label"], row[INDEX_KEY]

    return source.rows.map(decode, num_parallel_calls=tf.data.AUTOTUNE,
                           deterministic=deterministic)


def _diagnose(source: Source, preprocessor, index: int) -> Problem:
    """Why row ``index`` fails: preprocess each modality alone, eagerly, and keep TF's message."""
    row = next(iter(source.rows.skip(index).take(1)))
    origin = source.origins[index]
    for modality in preprocessor.modalities:
        if modality not in row:
            continue
        alone = {k: v for k, v in row.items() if k == modality or k not in preprocessor.modalities}
        try:
            preprocessor.preprocess_example(source.load(alone, preprocessor.specs))
        except (tf.errors.OpError, ValueError) as error:
            message = getattr(error, "message", str(error)).strip().splitlines()[0]
            value = row[modality]
            path = value.numpy().decode() if value.dtype == tf.string and modality != "text" else ""
            return Problem(origin, path, f"cannot decode the {modality}: {message}")
    return Problem(origin, "", "it cannot be preprocessed")


def scan(source: Source, preprocessor, on_error: str = "raise", description: str = "checking",
         raw_text: bool = False):
    """Yield ``(features, label)`` as numpy for every usable example, with a progress bar.

    Problems found while scanning the source and examples that fail to decode are
    raised as :class:`~mmzoo.data.DataError` or skipped and counted, per ``on_error``.
    Returns (as the generator's value) the :class:`BadDataReport`.
    """
    check_on_error(on_error)
    report = BadDataReport(total=len(source.origins) + len(source.problems))
    for problem in source.problems:
        handle(problem, on_error, report)
    expected = 0
    elements = decoded(source, preprocessor, raw_text=raw_text).ignore_errors()
    for features, label, index in tqdm.tqdm(elements.as_numpy_iterator(), desc=description,
                                            total=len(source.origins), unit="example"):
        for missing in range(expected, index):
            handle(_diagnose(source, preprocessor, missing), on_error, report)
        expected = index + 1
        yield features, label
    for missing in range(expected, len(source.origins)):
        handle(_diagnose(source, preprocessor, missing), on_error, report)
    (logger.warning if report.skipped else logger.info)("%s: %s", description, report.summary())
    return report


def drain(generator):
    """Run a generator to its end and return its return value."""
    while True:
        try:
            next(generator)
        except StopIteration as stop:
            return stop.value


def check(source: Source, preprocessor, on_error: str = "raise") -> tuple[Source, BadDataReport]:
    """Decode every example once; return the source without its bad rows and the report.

    Example:
        >>> source, report = check(from_manifest("train.csv"), preprocessor, on_error="skip")  # doctest: +SKIP
        >>> print(report.summary())  # doctest: +SKIP
        skipped 2 of 100 examples: 1 x the file does not exist; 1 x cannot decode the image
    """
    report = drain(scan(source, preprocessor, on_error))
    position = {origin: index for index, origin in enumerate(source.origins)}
    bad = sorted(position[p.origin] for p in report.skipped if p.origin in position)
    rows = source.rows
    if bad:
        bad_indices = tf.constant(bad, tf.int64)
        rows = rows.filter(lambda row: ~tf.reduce_any(tf.equal(row[INDEX_KEY], bad_indices)))
    return dataclasses.replace(source, rows=rows, problems=[]), report
