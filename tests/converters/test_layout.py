"""Only converters know what tells one modality from another."""

import pathlib
import re

import mmzoo

PACKAGE = pathlib.Path(mmzoo.__file__).parent
# A modality name compared, looked up or tested for membership: `modality == "text"`,
# `"image" in specs`, `specs["audio"]`, `specs.get("text")`.
BRANCH = re.compile(r'''(==|!=)\s*"(text|image|audio)"|"(text|image|audio)"\s+(not\s+)?in\s|'''
                    r'''\["(text|image|audio)"\]|\.get\("(text|image|audio)"''')
# Where naming modalities is the point: the converters themselves, the request helpers'
# keyword arguments (text=, image_bytes=, audio_bytes=), the datasets and the demo on them.
ALLOWED = ("converters/", "serving.py", "datasets/", "demo.py")


def _branches(path: pathlib.Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
            for number, line in enumerate(lines, 1)
            if BRANCH.search(line) and ">>>" not in line]


def test_no_module_outside_the_converters_branches_on_a_modality_name():
    found = [branch for path in sorted(PACKAGE.rglob("*.py"))
             if not str(path.relative_to(PACKAGE)).startswith(ALLOWED)
             for branch in _branches(path)]
    assert found == []


def test_the_check_finds_a_branch():
    """The pattern catches the branches the converters replaced."""
    samples = ['if modality == "text":', 'if "image" in preprocessor.specs:',
               'spec = specs["audio"]', 'text = preprocessor.specs.get("text")']
    assert all(BRANCH.search(sample) for sample in samples)
    assert not BRANCH.search('for modality, converter in preprocessor.converters.items():')
