"""Files a row names that cannot be read, each made in ``tmp_path``: the precise reason (a
directory, a FIFO, a symbolic link loop, permission denied, empty, missing...), found when
the source is made (a FIFO is never opened: reading one would block), with the row and
the file; ``skip`` drops and counts exactly that row. Then the folder source: hidden files
and folders ignored, a byte-order mark left out of a ``.txt``, unreadable ``.txt`` files.
"""

from __future__ import annotations

import builtins
import errno
import os
import pathlib
import shutil

import pytest

import mmzoo.utils
from mmzoo.data import DataError, check, from_folder, from_manifest
from tests.data_files import pattern, write_image
from tests.faults.corpus import (
    GOOD,
    assert_same_examples,
    assert_skips_exactly,
    csv_lines,
    examples,
    preprocessor,
    write_files,
)

ROW3 = "m.csv row 3 (line 4)"


def refuse_reading(monkeypatch, path: pathlib.Path) -> None:
    """Take read permission from ``path``; as root, whom permission bits do not stop, make
    opening it fail the way the OS does for anyone else."""
    path.chmod(0)
    if os.geteuid() == 0:
        def fake_open(file, *args, **kwargs):
            if os.fspath(file) == str(path):
                raise PermissionError(errno.EACCES, "Permission denied", str(path))
            return builtins.open(file, *args, **kwargs)

        monkeypatch.setattr(mmzoo.utils, "open", fake_open, raising=False)


def directory(tmp, monkeypatch):
    (tmp / "img/bad.png").mkdir()
    return "img/bad.png", "the path is a directory"


def fifo(tmp, monkeypatch):
    os.mkfifo(tmp / "snd/bad.wav")
    return "snd/bad.wav", "the path is a FIFO"


def symlink_loop(tmp, monkeypatch):
    (tmp / "img/bad.png").symlink_to(tmp / "img/loop.png")
    (tmp / "img/loop.png").symlink_to(tmp / "img/bad.png")
    return "img/bad.png", "symbolic link loop"


def broken_symlink(tmp, monkeypatch):
    (tmp / "img/bad.png").symlink_to(tmp / "img/gone.png")
    return "img/bad.png", "does not exist (it is a symbolic link to a missing file)"


def missing(tmp, monkeypatch):
    return "img/bad.png", "the file does not exist"


def empty(tmp, monkeypatch):
    (tmp / "snd/bad.wav").write_bytes(b"")
    return "snd/bad.wav", "the file is empty"


def permission_denied(tmp, monkeypatch):
    shutil.copy(tmp / "img/0.png", tmp / "img/bad.png")
    refuse_reading(monkeypatch, tmp / "img/bad.png")
    return "img/bad.png", "permission denied"


def through_a_file(tmp, monkeypatch):
    return "img/0.png/bad.png", "a part of its path is a file"


def name_too_long(tmp, monkeypatch):
    return f"img/{'b' * 300}.png", "the path is too long"


def device(tmp, monkeypatch):
    return "/dev/null", "not a regular file"


FILE_CASES = [directory, fifo, symlink_loop, broken_symlink, missing, empty, permission_denied,
              through_a_file, name_too_long, device]


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda case: case.__name__)
def test_a_file_that_cannot_be_read_is_named_with_its_reason(tmp_path, monkeypatch, case):
    write_files(tmp_path)
    name, reason = case(tmp_path, monkeypatch)
    column = "audio" if name.endswith(".wav") else "image"
    bad = {"text": "a cat", "image": "", "audio": "", "label": "animals", column: name}
    lines = csv_lines([*GOOD[:2], tuple(bad.values()), *GOOD[2:]])
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_skips_exactly(from_manifest(tmp_path / "m.csv"), tmp_path, [(ROW3, reason)],
                         file=str(tmp_path / name))


def test_a_symbolic_link_to_a_good_file_is_read(tmp_path):
    write_files(tmp_path)
    (tmp_path / "img/link.png").symlink_to(tmp_path / "img/0.png")
    rows = [(*GOOD[0][:1], "img/link.png", *GOOD[0][2:]), *GOOD[1:]]
    (tmp_path / "m.csv").write_text("\n".join(csv_lines(rows)) + "\n", encoding="utf-8")
    (tmp_path / "r.csv").write_text("\n".join(csv_lines()) + "\n", encoding="utf-8")
    assert_same_examples(examples(from_manifest(tmp_path / "m.csv")),
                         examples(from_manifest(tmp_path / "r.csv")))


# --- the folder source ------------------------------------------------------------------

TREE = {"animals/frog": "a green frog", "animals/fish": "a frog", "food/apple": "a red apple"}


def write_tree(root: pathlib.Path) -> pathlib.Path:
    for i, (stem, text) in enumerate(TREE.items()):
        write_image(root / f"{stem}.png", pattern(9 + i, 8, 3, seed=i))
        (root / f"{stem}.txt").write_text(text, encoding="utf-8")
    return root


def hidden_folder(root):
    write_image(root / ".thumbnails/frog.png", pattern(4, 4, 3))
    (root / ".git/objects").mkdir(parents=True)
    (root / ".git/objects/ab").write_bytes(b"x")


def hidden_files(root):
    write_image(root / "animals/.frog.png", pattern(4, 4, 3))  # macOS's ._frog.png kind
    (root / "food/.DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "food/.apple.txt.swp").write_bytes(b"b0VIM")


def hidden_subfolder(root):
    write_image(root / "animals/.cache/frog.png", pattern(4, 4, 3))


def byte_order_marks(root):
    for stem, text in TREE.items():
        (root / f"{stem}.txt").write_bytes(b"\xef\xbb\xbf" + text.encode())


def crlf_text(root):
    for stem, text in TREE.items():
        (root / f"{stem}.txt").write_bytes(text.encode() + b"\r\n")


FOLDER_VALID = [hidden_folder, hidden_files, hidden_subfolder, byte_order_marks, crlf_text]


@pytest.mark.parametrize("case", FOLDER_VALID, ids=lambda case: case.__name__)
def test_folder_extras_leave_the_examples_as_they_are(tmp_path, case):
    expected = examples(from_folder(write_tree(tmp_path / "reference")))
    root = write_tree(tmp_path / "tree")
    case(root)
    source = from_folder(root)
    assert source.class_names == ("animals", "food") and source.problems == []
    assert list(source.origins) == sorted(TREE)
    texts = [text.decode() for text in source.texts().as_numpy_iterator()]
    assert [text.strip() for text in texts] == [TREE[key] for key in sorted(TREE)]
    assert_same_examples(examples(source), expected)


def fifo_text(root, monkeypatch):
    os.mkfifo(root / "animals/pipe.txt")
    return "animals/pipe", "animals/pipe.txt", "the path is a FIFO"


def fifo_image(root, monkeypatch):
    os.mkfifo(root / "animals/pipe.png")
    return "animals/pipe", "animals/pipe.png", "the path is a FIFO"


def looping_image(root, monkeypatch):
    (root / "animals/loop.png").symlink_to(root / "animals/loop.png")
    return "animals/loop", "animals/loop.png", "symbolic link loop"


def unreadable_text(root, monkeypatch):
    (root / "animals/secret.txt").write_text("a frog", encoding="utf-8")
    refuse_reading(monkeypatch, root / "animals/secret.txt")
    return "animals/secret", "animals/secret.txt", "permission denied"


FOLDER_BAD = [fifo_text, fifo_image, looping_image, unreadable_text]


@pytest.mark.parametrize("case", FOLDER_BAD, ids=lambda case: case.__name__)
def test_folder_file_that_cannot_be_read(tmp_path, monkeypatch, case):
    expected = examples(from_folder(write_tree(tmp_path / "reference")))
    root = write_tree(tmp_path / "tree")
    origin, name, reason = case(root, monkeypatch)
    source = from_folder(root)
    with pytest.raises(DataError) as error:
        check(source, preprocessor(), on_error="raise")
    assert error.value.origin == origin and error.value.path == str(root / name)
    assert reason in str(error.value)
    _, report = check(source, preprocessor(), on_error="skip")
    assert [p.origin for p in report.skipped] == [origin]
    assert_same_examples(examples(source), expected)


def test_a_folder_without_examples_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    hidden = tmp_path / "hidden"
    write_image(hidden / ".cache/frog.png", pattern(4, 4, 3))
    write_image(hidden / "animals/.frog.png", pattern(4, 4, 3))
    (tmp_path / "file").write_bytes(b"x")
    for root, said in [("empty", "holds no examples"), ("hidden", "holds no examples"),
                       ("gone", "does not exist"), ("file", "is not a folder")]:
        with pytest.raises(DataError, match=f"^{tmp_path / root}: .*{said}"):
            from_folder(tmp_path / root)
