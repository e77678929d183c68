"""The bad-data policy: raise an error naming the example, or skip it and count it."""

from __future__ import annotations

import collections
import dataclasses
import logging

ON_ERROR = ("raise", "skip")
logger = logging.getLogger("mmzoo.data")


SKIP_ADVICE = ("Fix or remove this example, or pass on_error='skip' to skip bad examples and "
               "count them.")


class DataError(ValueError):
    """Bad data: names where it comes from (a file, a row), the file, the reason and what to do.

    ``fix`` is the advice; by default the one for a bad example (fix it, or skip bad
    examples). A whole file that cannot be read (an empty manifest, one in UTF-16...)
    says how to fix the file instead: skipping cannot help.
    """

    def __init__(self, origin: str, path: str, reason: str, fix: str = SKIP_ADVICE):
        self.origin, self.path, self.reason = origin, path, reason
        super().__init__(f"{_where(origin, path)}: {reason}. {fix}")


def _where(origin: str, path: str) -> str:
    return f"{origin} ({path})" if path else origin


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
