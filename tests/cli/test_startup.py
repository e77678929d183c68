"""``import mmzoo`` and ``mmzoo [SUB] --help`` import neither TensorFlow nor Keras, and every
public name still imports (lazily) as it did. Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
#: The public API, as ``mmzoo/__init__.py`` imported it eagerly before it became lazy.
PUBLIC = {
    "AudioSpec": "mmzoo.specs", "ImageSpec": "mmzoo.specs", "TextSpec": "mmzoo.specs",
    "TrainConfig": "mmzoo.training", "balanced_class_weights": "mmzoo.training",
    "train": "mmzoo.training", "build_classifier": "mmzoo.models",
    "create_model": "mmzoo.models", "list_models": "mmzoo.models",
    "with_modality_weights": "mmzoo.models", "export_saved_model": "mmzoo.export",
    "from_preset": "mmzoo.zoo", "list_presets": "mmzoo.zoo", "load_preprocessor": "mmzoo.zoo",
    "preset_info": "mmzoo.zoo", "save_to_preset": "mmzoo.zoo", "Preset": "mmzoo.zoo",
    "load_preset": "mmzoo.zoo", "migrate_preset": "mmzoo.zoo",
    "get_strategy": "mmzoo.distribute", "list_fusions": "mmzoo.fusion",
    "register_fusion": "mmzoo.fusion", "backbone_names": "mmzoo.backbones",
    "backbone_spec": "mmzoo.backbones",
}
HEAVY = ("tensorflow", "keras")


def run_python(code: str) -> dict:
    """What ``code`` prints as JSON on its last line, run by a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get(
        "PYTHONPATH")]))}
    env.pop("EAGER_IMPORT", None)
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.splitlines()[-1])


def test_import_mmzoo_imports_no_tensorflow():
    result = run_python(
        "import json, sys, mmzoo\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    assert result == []


def test_help_of_the_command_and_every_subcommand_imports_no_tensorflow():
    result = run_python(
        "import contextlib, io, json, sys\n"
        "from mmzoo import cli\n"
        "parser = cli._parser()\n"
        "subs = [a for a in parser._actions if a.dest == 'command'][0].choices\n"
        "codes = {}\n"
        "for argv in [['--help']] + [[name, '--help'] for name in subs]:\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "        try:\n"
        "            cli.main(argv)\n"
        "        except SystemExit as stop:\n"
        "            codes[' '.join(argv)] = [stop.code, 'usage:' in out.getvalue()]\n"
        f"print(json.dumps({{'codes': codes, 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))")
    assert result["heavy"] == []
    assert {"--help", "train --help", "predict --help", "list --help"} <= set(result["codes"])
    assert all(code == [0, True] for code in result["codes"].values()), result["codes"]


def test_every_public_name_imports_from_mmzoo_as_from_its_module():
    result = run_python(
        "import importlib, json, mmzoo\n"
        f"public = {PUBLIC!r}\n"
        "same = {name: getattr(mmzoo, name) is getattr(importlib.import_module(module), name)\n"
        "        for name, module in public.items()}\n"
        "from mmzoo import serving, train\n"
        "import mmzoo.serving\n"
        "print(json.dumps({'all': mmzoo.__all__, 'dir': dir(mmzoo), 'same': same,\n"
        "                  'serving': serving is mmzoo.serving, 'train': train is mmzoo.train,\n"
        "                  'data': mmzoo.data.__name__}))")
    assert sorted(result["all"]) == sorted([*PUBLIC, "serving"])
    assert set(result["all"]) <= set(result["dir"])
    assert all(result["same"].values()), result["same"]
    assert result["serving"] and result["train"]
    assert result["data"] == "mmzoo.data"  # a submodule, imported on first use too


def test_an_unknown_name_is_an_attribute_error():
    result = run_python(
        "import json, mmzoo\n"
        "try:\n"
        "    mmzoo.no_such_name\n"
        "except AttributeError as error:\n"
        "    print(json.dumps(str(error)))")
    assert "no_such_name" in result
