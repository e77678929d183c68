"""CSV and JSONL manifests, checked before anything is decoded.

First the whole file: its encoding (UTF-8, with or without a byte-order mark), its
delimiter and its columns. A file that fails is not a manifest mmzoo can read: a
:class:`DataError` at once, whatever the bad-data policy. Then each record: a row with
missing or extra fields, a line that is not a JSON object, an oversized cell become a
:class:`Problem` naming the line, for the bad-data policy. Plain Python over the records.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import difflib
import io
import json
import pathlib
import threading

from mmzoo.data.errors import DataError, Problem
from mmzoo.specs import modalities


def columns() -> tuple[str, ...]:
    """The columns a manifest may have: every registered modality's, and ``label``."""
    return (*modalities(), "label")

# The most characters a cell (a CSV field, a JSON string) may hold: more is a bad row.
MAX_CELL_CHARS = 1 << 20
_OTHER_DELIMITERS = {";": "semicolons (;)", "\t": "tabs"}
_NOT_UTF8_BOMS = {  # UTF-32 LE starts like UTF-16 LE: looked for first
    codecs.BOM_UTF32_LE: "UTF-32", codecs.BOM_UTF32_BE: "UTF-32",
    codecs.BOM_UTF16_LE: "UTF-16", codecs.BOM_UTF16_BE: "UTF-16",
}
_RESAVE = ("Re-save it as UTF-8 (in Excel: \"CSV UTF-8 (Comma delimited)\"; in a text editor: "
           "encoding UTF-8).")
_UNCLOSED_QUOTE = " (a double quote left open joins the lines after it)"
_COLUMNS = "label and at least one of text, image (a path), audio (a path)"
_ADVICE = {"column": f"A CSV manifest names its columns on its first line, in lower case: {_COLUMNS}.",
           "key": f"Each line of a JSONL manifest is an object with the keys {_COLUMNS}."}
# csv's field size limit is the module's, for every thread: raised while one file is read.
_CSV_LIMIT = threading.Lock()


def read_manifest(path: pathlib.Path, data: bytes) -> tuple[list[dict | Problem], list[str]]:
    """The records of the manifest ``path``, whose bytes are ``data``, in file order: each a
    row (the values of its known columns) or the :class:`Problem` that makes it bad, and
    their origins (``"train.csv row 4 (line 5)"``: CSV lines count the header, JSONL lines
    the blank ones). Raises :class:`DataError` for a file that is not a manifest.
    """
    text = _decoded(path, data)
    if path.suffix.lower() == ".csv":
        records = _csv_records(path, text)
    else:
        records = _jsonl_records(path, text)
    if not records:
        raise file_error(path, "the file holds no examples", "Add a line per example.")
    origins = [f"{path.name} row {row} (line {line})" for row, (line, _) in enumerate(records, 1)]
    rows = [Problem(origin, "", record) if isinstance(record, str) else record
            for origin, (_, record) in zip(origins, records, strict=True)]
    return rows, origins


def file_error(path, reason: str, fix: str) -> DataError:
    """The :class:`DataError` for a whole file that cannot be used."""
    return DataError(str(path), "", reason, fix)


def _decoded(path, data: bytes) -> str:
    """The text of a UTF-8 file (a byte-order mark dropped; bytes that are not UTF-8 kept as
    surrogates, for the rows that hold them to be found bad)."""
    for bom, encoding in _NOT_UTF8_BOMS.items():
        if data.startswith(bom):
            raise file_error(path, f"the file is not UTF-8 but {encoding} (it starts with a "
                             f"{encoding} byte-order mark)", _RESAVE)
    data = data.removeprefix(codecs.BOM_UTF8)
    if b"\x00" in data.split(b"\n", 1)[0]:
        raise file_error(path, "the file's first line holds NUL bytes: it is UTF-16 or UTF-32 "
                         "(without a byte-order mark), or not a text file", _RESAVE)
    return data.decode("utf-8", errors="surrogateescape")


@contextlib.contextmanager
def _csv_cells_unlimited():
    """Let csv read cells of any size (they are measured afterwards, with their line)."""
    with _CSV_LIMIT:
        previous = csv.field_size_limit(2**31 - 1)
        try:
            yield
        finally:
            csv.field_size_limit(previous)


def _csv_records(path, text: str) -> list[tuple[int, dict | str]]:
    """``(line, row or reason)`` of each non-blank CSV record after the header."""
    with _csv_cells_unlimited():
        reader = csv.reader(io.StringIO(text, newline=""))
        records, line = [], 1
        for fields in reader:
            if any(field.strip() for field in fields):
                records.append((line, reader.line_num, fields))
            line = reader.line_num + 1
    if not records:
        raise file_error(path, "the file holds no header and no rows", _ADVICE["column"])
    names = _csv_columns(path, records[0][2])
    if len(records) == 1:
        raise file_error(path, "the file holds a header but no rows", "Add a row per example.")
    known = [name in columns() for name in names]
    rows = []
    for line, last_line, fields in records[1:]:
        if len(fields) != len(names):
            reason = _field_count_reason(fields, names)
            if last_line > line:
                reason += f"; the row runs on to line {last_line}{_UNCLOSED_QUOTE}"
            rows.append((line, reason))
            continue
        row = {name: field for name, field, kept in zip(names, fields, known, strict=True) if kept}
        rows.append((line, _oversized(row, _UNCLOSED_QUOTE) or row))
    return rows


def _csv_columns(path, header: list[str]) -> list[str]:
    """The column names of a CSV header, checked: a DataError says what is wrong with it."""
    if not set(header) & set(columns()):
        for delimiter, said in _OTHER_DELIMITERS.items():
            if {name.strip().lower() for name in ",".join(header).split(delimiter)} & set(columns()):
                raise file_error(path, f"the file is separated by {said}, not commas",
                                 "Save it as CSV with commas (in Excel: \"CSV UTF-8 (Comma "
                                 "delimited)\"), or write it as JSONL.")
    _check_columns(path, [name for name in header if name], "column", strict=True)
    return header


def _check_columns(path, names: list[str], kind: str, strict: bool) -> None:
    """Columns (CSV) or keys (JSONL, those of all lines) naming ``label`` and a modality,
    none twice, no misspelt known name (``strict``; else only where a required one is
    lacking); else a DataError."""
    advice = _ADVICE[kind]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise file_error(path, f"the {kind} {twice[0]!r} appears twice", advice)
    lacking = "label" not in names or not set(names) & set(modalities())
    hints = _misspelt(names, kind)
    if hints and (strict or lacking):
        raise file_error(path, hints, advice)
    if not lacking:
        return
    found = f"the {kind}s: {', '.join(repr(name) for name in names[:6])}"
    if not set(names) & set(columns()):
        header = "; the file seems to lack its header line" if kind == "column" else ""
        raise file_error(path, f"no {kind} is named text, image, audio or label ({found})"
                         f"{header}", advice)
    missing = "'label'" if "label" not in names else "text, image or audio"
    raise file_error(path, f"there is no {missing} {kind} ({found})", advice)


def _misspelt(names, kind: str) -> str:
    """``"unknown column 'Text' (did you mean 'text'?)"`` for the names close to a known
    column that ``names`` lack (another case, spaces around it, a typo); "" if none."""
    known = columns()
    absent = [column for column in known if column not in names]
    hints = []
    for name in names:
        if name in known:
            continue
        key = name.strip().lower()
        close = [key] if key in absent else difflib.get_close_matches(key, absent, 1, 0.8)
        if close:
            hints.append(f"{name!r} (did you mean {close[0]!r}?)")
    plural = "s" if len(hints) > 1 else ""
    return f"unknown {kind}{plural} {', '.join(hints)}" if hints else ""


def _field_count_reason(fields: list[str], names: list[str]) -> str:
    reason = (f"the row has {len(fields)} field{'s' if len(fields) > 1 else ''}, the header "
              f"{len(names)}")
    if len(fields) > len(names):
        return f"{reason} (a cell holding a comma needs double quotes around it)"
    missing = [name for name in names[len(fields):] if name in columns()]
    said = [said for delimiter, said in _OTHER_DELIMITERS.items() if delimiter in fields[0]]
    notes = [f"no {', '.join(missing)}"] if missing else []
    notes += [f"is it separated by {said[0]}?"] if len(fields) == 1 and said else []
    return f"{reason} ({'; '.join(notes)})" if notes else reason


def _oversized(row: dict, hint: str = "") -> str | None:
    for name, value in row.items():
        if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            return (f"the {name} holds {len(value)} characters, more than the limit of "
                    f"{MAX_CELL_CHARS}{hint}")
    return None


def _jsonl_records(path, text: str) -> list[tuple[int, dict | str]]:
    """``(line, row or reason)`` of each non-blank JSONL line."""
    values = [(line, _json_object(content))
              for line, content in enumerate(io.StringIO(text, newline=None), 1)
              if content.strip()]
    if values and not isinstance(values[0][1], dict) and _is_json_array(text):
        raise file_error(path, "the file is one JSON array, not JSON Lines", _ADVICE["key"])
    keys = {key for _, value in values if isinstance(value, dict) for key in value}
    if keys:
        _check_columns(path, sorted(keys), "key", strict=False)
    return [(line, _json_row(value) if isinstance(value, dict) else value)
            for line, value in values]


def _is_json_array(text: str) -> bool:
    if not text.lstrip().startswith("["):
        return False
    try:
        return isinstance(json.loads(text), list)
    except (json.JSONDecodeError, RecursionError):
        return False


def _json_object(content: str) -> dict | str:
    """One JSONL line's object, or why it is not one."""
    try:
        value = json.loads(content)
    except json.JSONDecodeError as error:
        return f"the line is not valid JSON: {error.msg} (column {error.colno})"
    except RecursionError:
        return "the line is not valid JSON: it is nested too deeply"
    if not isinstance(value, dict):
        kind = {list: "an array", str: "a string", type(None): "null", bool: "a boolean"}.get(
            type(value), "a number")
        return f"the line is {kind}, not a JSON object ({{\"text\": ..., \"label\": ...}})"
    return value


def _json_row(value: dict) -> dict | str:
    """A JSON object's row (its known keys), or why it is bad."""
    known = columns()
    row = {key: item for key, item in value.items() if key in known}
    return _misspelt(list(value), "key") or _oversized(row) or row
