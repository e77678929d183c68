"""The bad-data policy: raise an error naming the example, or skip it and count it.

A :class:`DataError` met inside a ``tf.data`` pipeline leaves it as the text of a TF error
(:meth:`DataError.to_tf_message`); :meth:`DataError.from_tf_error` gets it back, field for
field, from that TF error: this module is the only one that reads or writes that text.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import json
import logging
import re

ON_ERROR = ("raise", "skip")
logger = logging.getLogger("mmzoo.data")


SKIP_ADVICE = ("Fix or remove this example, or pass on_error='skip' to skip bad examples and "
               "count them.")
# A DataError's fields in a TF error message: JSON in URL-safe base64, whose characters
# TF's Assert prints as they are (it escapes quotes and backslashes).
_CARRIED = re.compile(r"<mmzoo DataError ([A-Za-z0-9_-]+=*)>")


class DataError(ValueError):
    """Bad data: names where it comes from (a file, a row), the file, the reason and what to do.

    ``fix`` is the advice; by default the one for a bad example (fix it, or skip bad
    examples). A whole file that cannot be read (an empty manifest, one in UTF-16...)
    says how to fix the file instead: skipping cannot help.

    Example:
        >>> error = DataError("train.csv row 3", "cat.png", "the file is empty")
        >>> str(error).split(". ")[0]
        'train.csv row 3 (cat.png): the file is empty'
        >>> DataError.from_tf_error(ValueError(error.to_tf_message())).reason
        'the file is empty'
    """

    def __init__(self, origin: str, path: str, reason: str, fix: str = SKIP_ADVICE):
        self.origin, self.path, self.reason, self.fix = origin, path, reason, fix
        super().__init__(f"{self.where}: {reason}. {fix}")

    @property
    def where(self) -> str:
        """The origin, with the file when there is one: ``"train.csv row 3 (cat.png)"``."""
        return _where(self.origin, self.path)

    @property
    def is_bad_example(self) -> bool:
        """One bad example (its advice: fix it, or skip bad examples), not a whole bad file."""
        return self.fix == SKIP_ADVICE

    def to_tf_message(self) -> str:
        """This error as the message of a TF error (e.g. of a failed ``tf.debugging.Assert``
        in a pipeline): readable, and carrying the fields for :meth:`from_tf_error`."""
        fields = json.dumps([self.origin, self.path, self.reason, self.fix])
        carried = base64.urlsafe_b64encode(fields.encode()).decode()
        readable = str(self).replace("'", "`")  # TF's Assert would print quotes escaped: \'
        return f"DataError: {readable} <mmzoo DataError {carried}>"

    @classmethod
    def from_tf_error(cls, error: BaseException) -> DataError | None:
        """The :class:`DataError` whose :meth:`to_tf_message` ``error``'s message holds (a
        TF error raised by a pipeline, or any error quoting it), else None."""
        found = _CARRIED.search(str(getattr(error, "message", None) or error))
        if found is None:
            return None
        return cls(*json.loads(base64.urlsafe_b64decode(found.group(1))))


def _where(origin: str, path: str) -> str:
    return f"{origin} ({path})" if path else origin


def op_message(message: str) -> str:
    """The first line of a TF error's message without the graph node and op decorations
    around it (and an Assert's ``assertion failed: [...]``).

    Example:
        >>> op_message("{{function_node f}} assertion failed: [no samples] [Op:Assert] name: ")
        'no samples'
    """
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", message.strip().splitlines()[0])
    message = re.sub(r"\s*\[Op:\w+\].*$", "", message).strip()
    return re.sub(r"^assertion failed: \[(.*)\]$", r"\1", message)


@dataclasses.dataclass(frozen=True)
class Problem:
    """One bad example: its origin (e.g. ``"train.csv row 3"``), its file and the reason."""

    origin: str
    path: str
    reason: str


@dataclasses.dataclass
class BadDataReport:
    """The examples skipped under ``on_error="skip"``, with a one-line summary.

    Example:
        >>> report = BadDataReport(total=10)
        >>> report.summary()
        'all 10 examples are usable'
    """

    total: int = 0
    skipped: list[Problem] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        if not self.skipped:
            return f"all {self.total} examples are usable"
        reasons = collections.Counter(p.reason.split(":")[0] for p in self.skipped)
        details = "; ".join(f"{n} x {reason}" for reason, n in reasons.most_common())
        return f"skipped {len(self.skipped)} of {self.total} examples: {details}"


def check_on_error(on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error={on_error!r} is unknown; use 'raise' (stop at the first bad "
                         f"example) or 'skip' (skip bad examples and count them).")


def handle(problem: Problem, on_error: str, report: BadDataReport) -> None:
    """Raise :class:`DataError` for ``problem``, or record it in ``report``."""
    if on_error == "raise":
        raise DataError(problem.origin, problem.path, problem.reason)
    report.skipped.append(problem)
    logger.warning("skipping %s: %s", _where(problem.origin, problem.path), problem.reason)
