"""One decoding pass over a source: finds the examples that cannot be preprocessed."""

from __future__ import annotations

import atexit
import dataclasses
import functools
import gc
import sys

import numpy as np
import tensorflow as tf
import tqdm

from mmzoo.data.errors import (
    BadDataReport,
    DataError,
    Problem,
    check_on_error,
    handle,
    logger,
    op_message,
)
from mmzoo.data.sources import INDEX_KEY, Source


def decode_function(source: Source, preprocessor, raw_inputs: bool = False):
    """``row -> (features, label)``: one row of ``source`` loaded and preprocessed.

    With ``raw_inputs``, a modality whose converter ``stores_raw`` (text) keeps the row's
    raw input (the string, not token ids), as ``prepare`` stores it.
    """
    def decode(row):
        raw = source.load(row, preprocessor.converters)
        features = preprocessor.preprocess_example(raw)
        for modality, converter in preprocessor.converters.items():
            if raw_inputs and converter.stores_raw:
                features[modality] = row.get(modality, tf.constant(""))
        return features, row["label"]

    return decode


def _decoded_in_parallel(rows: tf.data.Dataset, decode) -> tf.data.Dataset:
    """``rows.map(decode)``, in parallel and in order, without the rows that fail. tf.data's
    autotuner is off (for the whole pipeline built on it): each parallel map runs one call
    per core.

    With the autotuner on, a pipeline that decodes audio in a ``numpy_function`` falls to a
    single core for whole epochs, about one epoch in three (the stamps on 2 idle cores:
    ~370 examples/s instead of ~600, fixed ``num_parallel_calls`` or not); with it off,
    20 epochs of 20 ran on both cores.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    elements = rows.map(decode, num_parallel_calls=tf.data.AUTOTUNE,
                        deterministic=True).ignore_errors()
    return elements.with_options(options)




def _diagnose(source: Source, preprocessor, row: dict) -> Problem:
    """Why ``row`` (a row of ``source.rows``) fails: preprocess each modality alone, eagerly,
    and keep the converter's word for it, or TF's message."""
    row = {key: tf.constant(value) for key, value in row.items()}
    origin = source.origins[int(row[INDEX_KEY])]
    decode = decode_function(source, preprocessor)
    for modality, converter in preprocessor.converters.items():
        if modality not in row:
            continue
        alone = {k: v for k, v in row.items() if k == modality or k not in preprocessor.modalities}
        value = row[modality]
        path = value.numpy().decode() if converter.holds_paths and value.dtype == tf.string else ""
        message = converter.diagnose(value.numpy()) if value.dtype == tf.string else None
        if message is None:
            try:
                decode(alone)
            except (tf.errors.OpError, ValueError) as error:
                message = op_message(getattr(error, "message", str(error))).rstrip(".")
        if message is not None:
            return Problem(origin, path, f"cannot decode the {modality}: {message}")
    return Problem(origin, "", "it cannot be preprocessed")


def _light_columns(rows: tf.data.Dataset) -> dict[str, np.ndarray]:
    """The rows' scalars (paths, strings, ids: cheap to keep) and labels as NumPy columns;
    arrays (decoded images, waveforms) are left out."""
    keys = [key for key, spec in rows.element_spec.items()
            if spec.shape.rank == 0 or key == "label"]
    batches = list(rows.map(lambda row: {key: row[key] for key in keys})
                   .batch(65536).as_numpy_iterator())
    if not batches:
        return {}
    return {key: np.concatenate([batch[key] for batch in batches]) for key in batches[0]}


class _PassMonitor:
    """The Python side of :func:`decoded_in_one_pass`: names the rows a pass dropped,
    raises or counts them, and logs the pass's summary."""

    def __init__(self, source: Source, preprocessor, on_error: str, report: BadDataReport,
                 description: str):
        self.source, self.preprocessor, self.on_error = source, preprocessor, on_error
        self.report, self.description = report, description
        self.scan_problems = list(source.problems)
        self.columns = _light_columns(source.rows)
        self.pass_ended = False

    def dropped(self, start, stop) -> str:
        """Name rows ``start..stop-1`` and count them; under ``raise``, the
        :class:`DataError`'s message for the graph to raise (else "").

        Runs inside the pipeline, so it neither iterates a dataset nor raises after TF ops
        (either leaves the interpreter hanging at exit after the error): the rows come from
        the columns kept when the pipeline was made (a row's arrays are not kept: a row of
        decoded arrays is named, its reason only when a file or text makes it fail), and the
        error is raised by the graph.
        """
        self._start_pass_if_new()
        try:
            for position in range(int(start), int(stop)):
                row = {key: column[position] for key, column in self.columns.items()}
                handle(_diagnose(self.source, self.preprocessor, row), self.on_error, self.report)
        except DataError as error:
            return error.to_tf_message()
        return ""

    def end_of_pass(self) -> int:
        self._start_pass_if_new()
        (logger.warning if self.report.skipped else logger.info)(
            "%s: %s", self.description, self.report.summary())
        self.pass_ended = True  # the report keeps this pass's count until the next pass
        return 0

    def _start_pass_if_new(self) -> None:
        if self.pass_ended:
            self.report.skipped = list(self.scan_problems)
            self.pass_ended = False


@functools.cache
def _collect_pipelines_before_exit() -> None:
    """Free unreachable pipelines while the interpreter can still run their threads.

    An iterator of a pipeline with ``py_function``s that an error stopped (a bad file
    under ``raise``) stays in a reference cycle with the error's traceback; destroyed
    during the interpreter's shutdown, it waits for threads that wait for the GIL, and the
    process hangs. A garbage collection at exit, before the shutdown, frees it in time.
    """
    def collect():
        # An uncaught error's traceback is still held here; the process is ending anyway.
        sys.last_type = sys.last_value = sys.last_traceback = sys.last_exc = None
        gc.collect()

    atexit.register(collect)


def decoded_in_one_pass(source: Source, preprocessor, on_error: str = "raise",
                        report: BadDataReport | None = None,
                        description: str = "make_dataset pass",
                        raw_inputs: bool = False) -> tf.data.Dataset:
    """``(features, label)`` of every row that decodes, finding bad rows in the same pass.

    Rows are decoded in parallel (in order) and those that fail are dropped; the gap
    each one leaves in the row positions is noticed as the pass goes, and the row is then
    named with its reason (decoded alone, in Python: only bad rows cost this). With
    ``on_error="raise"`` the pass stops there with that :class:`~mmzoo.data.DataError`'s
    message (raised by the iterator as a ``tf.errors.InvalidArgumentError``);
    with ``"skip"`` it goes on, counts into ``report`` and logs a summary at the end of
    each pass; ``report`` then holds that pass's count until the next pass starts afresh
    (:meth:`~mmzoo.data.DataError.from_tf_error` gets the DataError back from the TF error).
    Problems found when the source was scanned (missing files, unknown labels) are raised
    here at once, or counted in every pass.

    Under ``raise`` the dataset's cardinality is the number of rows (Keras ``fit`` and
    ``evaluate`` need it: with an unknown length, Keras 3 ``evaluate`` counts an extra
    empty batch); under ``skip`` it is unknown. With ``raw_inputs``, text (any modality whose
    converter ``stores_raw``) keeps its raw input (see :func:`decode_function`).
    """
    check_on_error(on_error)
    _collect_pipelines_before_exit()
    report = report if report is not None else BadDataReport()
    report.total = len(source.origins) + len(source.problems)
    for problem in source.problems:
        handle(problem, on_error, report)
    monitor = _PassMonitor(source, preprocessor, on_error, report, description)
    rows = int(source.rows.cardinality())
    if rows < 0:  # unknown length: count once (rows are paths and strings, cheap)
        rows = int(source.rows.reduce(0, lambda count, _: count + 1))
    decode = decode_function(source, preprocessor, raw_inputs)
    elements = _decoded_in_parallel(source.rows.enumerate(),
                                    lambda position, row: (*decode(row), position))
    end = tf.nest.map_structure(lambda spec: tf.zeros(spec.shape, spec.dtype),
                                elements.element_spec[:2]) + (tf.constant(-1, tf.int64),)
    elements = elements.concatenate(tf.data.Dataset.from_tensors(end))

    def notice_gaps(expected, element):
        features, label, position = element
        at_end = position < 0
        reached = tf.where(at_end, tf.constant(rows, tf.int64), position)
        error = tf.cond(reached > expected, lambda: tf.py_function(
            monitor.dropped, [expected, reached], tf.string), lambda: tf.constant(""))
        ended = tf.cond(at_end, lambda: tf.py_function(monitor.end_of_pass, [], tf.int64),
                        lambda: tf.constant(0, tf.int64))
        with tf.control_dependencies([tf.debugging.Assert(tf.equal(error, ""), [error])]):
            return reached + 1 + ended, (features, label, at_end)

    dataset = (elements.scan(tf.constant(0, tf.int64), notice_gaps)
               .filter(lambda features, label, at_end: ~at_end)
               .map(lambda features, label, at_end: (features, label)))
    if on_error == "raise":  # every row comes out, or the pass stops: the length is known
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(rows))
    return dataset


def decoded_examples(source: Source, preprocessor, on_error: str = "raise",
                     report: BadDataReport | None = None, description: str = "checking",
                     raw_inputs: bool = False):
    """Yield ``(features, label)`` as NumPy of every usable example: one
    :func:`decoded_in_one_pass` pass, with a progress bar. Under ``raise`` a bad example
    stops it with its :class:`~mmzoo.data.DataError` (not the TF error carrying it).

    Example:
        >>> report = BadDataReport()
        >>> usable = sum(1 for _ in decoded_examples(source, pre, "skip", report))  # doctest: +SKIP
    """
    dataset = decoded_in_one_pass(source, preprocessor, on_error, report, description, raw_inputs)
    try:
        yield from tqdm.tqdm(dataset.as_numpy_iterator(), desc=description,
                             total=len(source.origins), unit="example")
    except tf.errors.InvalidArgumentError as error:
        data_error = DataError.from_tf_error(error)
        if data_error is None:
            raise
        raise data_error from None


def check(source: Source, preprocessor, on_error: str = "raise") -> tuple[Source, BadDataReport]:
    """Decode every example once; return the source without its bad rows and the report.

    Example:
        >>> source, report = check(from_manifest("train.csv"), preprocessor, on_error="skip")  # doctest: +SKIP
        >>> print(report.summary())  # doctest: +SKIP
        skipped 2 of 100 examples: 1 x the file does not exist; 1 x cannot decode the image
    """
    report = BadDataReport()
    for _ in decoded_examples(source, preprocessor, on_error, report):
        pass
    position = {origin: index for index, origin in enumerate(source.origins)}
    bad = sorted(position[p.origin] for p in report.skipped if p.origin in position)
    rows = source.rows
    if bad:
        bad_indices = tf.constant(bad, tf.int64)
        rows = rows.filter(lambda row: ~tf.reduce_any(tf.equal(row[INDEX_KEY], bad_indices)))
    return dataclasses.replace(source, rows=rows, problems=[]), report
