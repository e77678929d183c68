"""Bad and odd manifests (CSV and JSONL), each made in ``tmp_path``.

- Whole-file cases: not a manifest mmzoo can read (empty, UTF-16, ``;``-separated, a
  header naming no ``label``...): :class:`DataError` from ``from_manifest`` at once, whatever
  the policy, naming the file and saying what is wrong.
- Bad-row cases: the four good rows of ``tests/faults/corpus.py`` with bad rows among them;
  ``raise`` names the first one's manifest, row and line (counting the header for CSV,
  physical lines for JSONL) and reason; ``skip`` drops and counts exactly the bad rows, and
  the good ones equal those of a manifest that holds only them.
- Odd but valid cases (a UTF-8 byte-order mark, CRLF, columns in another order...): the
  same examples as the plain manifest.
"""

from __future__ import annotations

import csv
import io
import os

import pytest

from mmzoo.data import DataError, from_manifest
from tests.faults.corpus import (
    GOOD,
    assert_same_examples,
    assert_skips_exactly,
    csv_lines,
    examples,
    jsonl_lines,
    records,
    reference,
    write_files,
)

LIMIT = 2**20  # the documented cell limit (docs/guides/data.md), in characters


def with_bad(lines: list[str], *bad: str, at: int) -> list[str]:
    """``lines`` with ``bad`` inserted before ``lines[at]``."""
    return [*lines[:at], *bad, *lines[at:]]


def text_of(lines: list[str], newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode("utf-8", errors="surrogateescape")


CSV, JSONL = csv_lines(), jsonl_lines()


# --- whole-file cases: (file name, content, what the message says) ---------------------

WHOLE_FILE = {
    "empty": ("m.csv", b"", "the file is empty"),
    "blank-lines-only": ("m.csv", b"\n \n\n", "no header and no rows"),
    "bom-only": ("m.csv", b"\xef\xbb\xbf", "no header and no rows"),
    "header-only": ("m.csv", b"text,image,label\n", "a header but no rows"),
    "bom-header-only": ("m.csv", b"\xef\xbb\xbftext,label\r\n", "a header but no rows"),
    "no-header": ("m.csv", text_of(CSV[1:]), "lack its header line"),
    "semicolons": ("m.csv", text_of([line.replace(",", ";") for line in CSV]),
                   "separated by semicolons"),
    "tabs": ("m.csv", text_of([line.replace(",", "\t") for line in CSV]),
             "separated by tabs"),
    "semicolons-upper-case": ("m.csv", b"Text;Image;Label\na frog;img/0.png;animals\n",
                              "separated by semicolons"),
    "utf16-bom": ("m.csv", "\n".join(CSV).encode("utf-16"), "UTF-16"),
    "utf16-be-bom": ("m.csv", "\ufeff".encode("utf-16-be") + "\n".join(CSV).encode(
        "utf-16-be"), "UTF-16"),
    "utf16-no-bom": ("m.csv", "\n".join(CSV).encode("utf-16-le"), "NUL bytes"),
    "utf32-bom": ("m.csv", "\n".join(CSV).encode("utf-32"), "UTF-32"),
    "jsonl-utf16": ("m.jsonl", "\n".join(JSONL).encode("utf-16"), "UTF-16"),
    "upper-case-header": ("m.csv", text_of(["TEXT,IMAGE,AUDIO,LABEL", *CSV[1:]]),
                          "'TEXT' (did you mean 'text'?)"),
    "capitalised-label": ("m.csv", text_of(["text,image,audio,Label", *CSV[1:]]),
                          "'Label' (did you mean 'label'?)"),
    "space-in-header": ("m.csv", text_of(["text, image,audio,label", *CSV[1:]]),
                        "' image' (did you mean 'image'?)"),
    "typo-in-header": ("m.csv", text_of(["text,imgae,audio,label", *CSV[1:]]),
                       "'imgae' (did you mean 'image'?)"),
    "no-label-column": ("m.csv", b"text,image\na frog,img/0.png\n", "no 'label' column"),
    "no-modality-column": ("m.csv", b"caption,label\na frog,animals\n",
                           "no text, image or audio column"),
    "column-twice": ("m.csv", b"text,text,label\na,b,animals\n", "'text' appears twice"),
    "jsonl-empty": ("m.jsonl", b"\n\n", "holds no examples"),
    "jsonl-capitalised-label": ("m.jsonl", text_of(
        [line.replace('"label"', '"Label"') for line in JSONL]),
        "'Label' (did you mean 'label'?)"),
    "json-array-file": ("m.json", ("[\n" + ",\n".join(JSONL) + "\n]\n").encode(),
                        "one JSON array, not JSON Lines"),
    "json-array-one-line": ("m.jsonl", ("[" + ", ".join(JSONL) + "]").encode(),
                            "one JSON array, not JSON Lines"),
    "jsonl-no-label": ("m.jsonl", b'{"text": "a frog"}\n{"text": "an apple"}\n',
                       "no 'label' key"),
    "jsonl-no-modality": ("m.jsonl", b'{"caption": "a frog", "label": "animals"}\n',
                          "no text, image or audio key"),
    "every-label-null": ("m.jsonl", b'{"text": "a frog", "label": null}\n'
                         b'{"text": "an apple", "label": null}\n', "no row is usable"),
    "every-row-short": ("m.csv", b"text,image,label\na frog\nan apple\n", "no row is usable"),
}


@pytest.mark.parametrize("case", WHOLE_FILE, ids=str)
def test_a_file_that_is_not_a_manifest_is_refused_at_once(tmp_path, case):
    name, content, said = WHOLE_FILE[case]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as error:
        from_manifest(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and said in message
    assert "on_error='skip'" not in message  # skipping rows cannot help


def test_a_folder_a_fifo_or_a_missing_file_as_manifest(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    os.mkfifo(tmp_path / "pipe.csv")  # would block a reader forever
    for name, said in [("dir.csv", "is a directory"), ("pipe.csv", "is a FIFO"),
                       ("gone.csv", "does not exist")]:
        with pytest.raises(DataError, match=f"^{tmp_path / name}: .*{said}"):
            from_manifest(tmp_path / name)


# --- bad-row cases: (file name, content, [(origin, reason)], good rows) -------------------

ROW3_CSV = "m.csv row 3 (line 4)"  # inserted before the third good row, after the header
ROW3_JSONL = "m.jsonl row 3 (line 3)"


def csv_case(bad: str, reason: str):
    return "m.csv", text_of(with_bad(CSV, bad, at=3)), [(ROW3_CSV, reason)], GOOD


def jsonl_case(bad: str, reason: str):
    return "m.jsonl", text_of(with_bad(JSONL, bad, at=2)), [(ROW3_JSONL, reason)], GOOD


BAD_ROWS = {
    "csv-missing-fields": csv_case("a cat,img/0.png", "2 fields, the header 4 (no audio, label)"),
    "csv-extra-fields": csv_case("a cat, black,img/0.png,,animals", "5 fields, the header 4"),
    "csv-semicolon-row": csv_case("a cat;img/0.png;;animals", "is it separated by semicolons"),
    "csv-oversized-cell": csv_case("x" * (LIMIT + 1) + ",img/0.png,,animals",
                                   f"more than the limit of {LIMIT}"),
    "csv-empty-label": csv_case("a cat,img/0.png,,", "the label is empty"),
    "csv-blank-label": csv_case("a cat,img/0.png,,   ", "the label is empty"),
    "csv-latin1-text": csv_case("caf\udce9,img/0.png,,animals", "text is not valid UTF-8"),
    "csv-latin1-path": csv_case("a cat,img/caf\udce9.png,,animals",
                                "image path is not valid UTF-8"),
    "csv-latin1-label": csv_case("a cat,img/0.png,,anim\udce9ux", "label is not valid UTF-8"),
    "csv-nul-in-path": csv_case("a cat,img/0\x00.png,,animals", "image path holds a NUL"),
    "csv-two-bad-rows": ("m.csv", text_of(with_bad(CSV, "a cat", at=1) + ["a cat,,,"]), [
        ("m.csv row 1 (line 2)", "1 field, the header 4"),
        ("m.csv row 6 (line 7)", "the label is empty")], GOOD),
    "csv-blank-lines-counted": ("m.csv", text_of([*CSV[:3], "", "", "a cat,img/0.png", *CSV[3:]]),
                                [("m.csv row 3 (line 6)", "2 fields")], GOOD),
    "csv-crlf": ("m.csv", text_of(with_bad(CSV, "a cat,img/0.png", at=3), "\r\n"),
                 [(ROW3_CSV, "2 fields")], GOOD),
    "csv-bom": ("m.csv", b"\xef\xbb\xbf" + text_of(with_bad(CSV, "a cat,img/0.png", at=3)),
                [(ROW3_CSV, "2 fields")], GOOD),
    # a quoted cell over two lines: the next row starts on line 5
    "csv-after-a-multi-line-cell": ("m.csv", text_of(
        [*CSV[:3], '"a green\nfrog",img/0.png,,animals', "a cat", *CSV[3:]]),
        [("m.csv row 4 (line 6)", "1 field")],
        [*GOOD[:2], ("a green\nfrog", "img/0.png", "", "animals"), *GOOD[2:]]),
    # an opening quote never closed takes the rest of the file into its cell
    "csv-unclosed-quote": ("m.csv", text_of([*CSV[:3], '"a cat,img/0.png,,animals', *CSV[3:]]),
                           [(ROW3_CSV, "runs on to line 6")], GOOD[:2]),
    "jsonl-label-null": jsonl_case('{"text": "a cat", "label": null}', "the label is null"),
    "jsonl-label-true": jsonl_case('{"text": "a cat", "label": true}', "the label is true"),
    "jsonl-label-false": jsonl_case('{"text": "a cat", "label": false}', "the label is false"),
    "jsonl-label-fraction": jsonl_case('{"text": "a cat", "label": 1.5}', "the label is 1.5"),
    "jsonl-label-list": jsonl_case('{"text": "a cat", "label": ["animals"]}',
                                   "not multi-label"),
    "jsonl-label-object": jsonl_case('{"text": "a cat", "label": {"name": "animals"}}',
                                     "the label is a dict"),
    "jsonl-label-empty": jsonl_case('{"text": "a cat", "label": ""}', "the label is empty"),
    "jsonl-label-missing": jsonl_case('{"text": "a cat"}', "has no label"),
    "jsonl-array-line": jsonl_case('["a cat", "img/0.png", "", "animals"]', "is an array"),
    "jsonl-string-line": jsonl_case('"a cat"', "is a string"),
    "jsonl-number-line": jsonl_case("3", "is a number"),
    "jsonl-null-line": jsonl_case("null", "is null"),
    "jsonl-truncated-line": jsonl_case('{"text": "a ca', "not valid JSON"),
    "jsonl-trailing-comma": jsonl_case('{"text": "a cat", "label": "animals",}', "not valid JSON"),
    "jsonl-nested-too-deeply": jsonl_case("[" * 100_000, "nested too deeply"),
    "jsonl-misspelt-key": jsonl_case('{"Text": "a cat", "label": "animals"}',
                                     "'Text' (did you mean 'text'?)"),
    "jsonl-text-a-number": jsonl_case('{"text": 5, "label": "animals"}', "the text is 5"),
    "jsonl-image-a-list": jsonl_case('{"image": ["img/0.png"], "label": "animals"}',
                                     "not a path"),
    "jsonl-lone-surrogate": jsonl_case('{"text": "caf\\udce9", "label": "animals"}',
                                       "not valid UTF-8"),
    "jsonl-oversized-string": jsonl_case('{"text": "' + "x" * (LIMIT + 1) + '", "label": "animals"}',
                                         f"more than the limit of {LIMIT}"),
    # physical lines: the blank lines count
    "jsonl-bad-line-6": ("m.jsonl", text_of([*JSONL[:2], "", "", JSONL[2], '{"text": ', JSONL[3]]),
                         [("m.jsonl row 4 (line 6)", "not valid JSON")], GOOD),
}


@pytest.mark.parametrize("case", BAD_ROWS, ids=str)
def test_bad_rows_are_named_by_line_and_skipped_exactly(tmp_path, case):
    name, content, bad, good_rows = BAD_ROWS[case]
    write_files(tmp_path)
    path = tmp_path / name
    path.write_bytes(content)
    assert_skips_exactly(from_manifest(path), tmp_path, bad, good_rows)


# --- odd but valid: the same examples as the plain CSV manifest -------------------------

def _columns_reordered() -> list[str]:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=("label", "audio", "text", "image"),
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(records())
    return out.getvalue().splitlines()


VALID = {
    "csv-bom": ("m.csv", b"\xef\xbb\xbf" + text_of(CSV)),
    "csv-crlf": ("m.csv", text_of(CSV, "\r\n")),
    "csv-no-final-newline": ("m.csv", text_of(CSV)[:-1]),
    "csv-columns-reordered": ("m.csv", text_of(_columns_reordered())),
    "csv-extra-unknown-column": ("m.csv", text_of([f"{line},x" for line in CSV])),
    "csv-trailing-empty-column": ("m.csv", text_of([f"{line}," for line in CSV])),
    "csv-rows-of-empty-cells": ("m.csv", text_of([*CSV[:3], ",,,", *CSV[3:], ",,,"])),
    "csv-blank-lines": ("m.csv", text_of(["", *CSV[:2], "", *CSV[2:], ""])),
    "csv-label-padded": ("m.csv", text_of([line.replace(",animals", ", animals ")
                                           for line in CSV])),
    "jsonl-bom": ("m.jsonl", b"\xef\xbb\xbf" + text_of(JSONL)),
    "jsonl-crlf-and-blank-lines": ("m.jsonl", text_of(["", *JSONL[:2], "  ", *JSONL[2:]], "\r\n")),
    "jsonl-null-means-absent": ("m.jsonl", text_of([line.replace('""', "null") for line in JSONL])),
    "jsonl-keys-left-out": ("m.jsonl", text_of([
        line.replace(', "image": ""', "").replace('"text": "", ', "").replace(', "audio": ""', "")
        for line in JSONL])),
    "jsonl-unknown-key": ("m.jsonl", text_of([line[:-1] + ', "id": 1}' for line in JSONL])),
}


@pytest.mark.parametrize("case", VALID, ids=str)
def test_odd_but_valid_manifests_give_the_plain_examples(tmp_path, case):
    name, content = VALID[case]
    write_files(tmp_path)
    path = tmp_path / name
    path.write_bytes(content)
    source = from_manifest(path)
    assert source.problems == []
    class_names, expected = reference(tmp_path)
    assert source.class_names == class_names
    assert_same_examples(examples(source), expected)


def test_class_names_come_from_the_good_labels_only(tmp_path):
    """The finding: labels null / true / 1.5 and short rows became classes "None", "True"..."""
    write_files(tmp_path)
    path = tmp_path / "m.jsonl"
    path.write_bytes(text_of(with_bad(JSONL, '{"text": "a", "label": null}',
                                      '{"text": "a", "label": true}',
                                      '{"text": "a", "label": 1.5}', at=1)))
    assert from_manifest(path).class_names == ("animals", "food")
    path = tmp_path / "m.csv"
    path.write_bytes(text_of(with_bad(CSV, "a cat,img/0.png", "a;b;c;d", at=1)))
    assert from_manifest(path).class_names == ("animals", "food")
