"""``python -m mmzoo.recipes [names...]`` (``make zoo``): train the zoo's presets from the real data.

Each recipe writes under ``--output`` (default ``$MMZOO_HOME/recipes``), never into the
source tree; ``--install`` then ships presets trained there (see :func:`mmzoo.recipes.install`).

Example:
    python -m mmzoo.recipes --output build/zoo                       # every committed recipe
    python -m mmzoo.recipes --output build/zoo concat_lenet_avmnist  # one of them
    python -m mmzoo.recipes --output build/zoo --install             # ship what was trained
"""

from __future__ import annotations

import argparse
import pathlib
import time

from mmzoo.recipes import (
    default_output_dir,
    install,
    load_recipe,
    markdown_table,
    recipe_names,
    run_recipe,
)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mmzoo.recipes",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"recipes to run (default: all of {recipe_names()})")
    parser.add_argument("--output", type=pathlib.Path,
                        help="where the presets, plots and runs go (default: $MMZOO_HOME/recipes)")
    parser.add_argument("--data-dir", help="TFDS data dir (default: $MMZOO_HOME/tensorflow_datasets)")
    parser.add_argument("--install", action="store_true",
                        help="train nothing: copy the presets trained under --output into "
                             "mmzoo/zoo/checkpoints and docs/img/zoo, and register them")
    arguments = parser.parse_args(argv)
    names = arguments.names or recipe_names()
    output = arguments.output or default_output_dir()
    if arguments.install:
        for name in names:
            print(f"{name}: installed into {install(name, output)}", flush=True)
        print(markdown_table(names))
        return
    trained = []
    for name in names:
        started = time.perf_counter()
        run_recipe(name, output, data_dir=arguments.data_dir)
        trained.append(load_recipe(name).name)  # a recipe given by its path: its preset's name
        print(f"{name}: done in {time.perf_counter() - started:.0f} s", flush=True)
    print(markdown_table(trained, lambda name: output / name / "preset"))


if __name__ == "__main__":
    main()
