"""``python -m mmzoo.zoo.recipes [names...]`` (``make zoo``): train the zoo's presets from the real data.

Example:
    python -m mmzoo.zoo.recipes                       # every committed recipe
    python -m mmzoo.zoo.recipes concat_lenet_avmnist  # one of them
"""

from __future__ import annotations

import argparse
import time

from mmzoo.zoo.recipes import markdown_table, recipe_names, run_recipe


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mmzoo.zoo.recipes", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"recipes to run (default: all of {recipe_names()})")
    parser.add_argument("--data-dir", help="TFDS data dir (default: $MMZOO_HOME/tensorflow_datasets)")
    parser.add_argument("--work-dir", help="training outputs (default: $MMZOO_HOME/recipes)")
    arguments = parser.parse_args(argv)
    for name in arguments.names or recipe_names():
        started = time.perf_counter()
        run_recipe(name, data_dir=arguments.data_dir, work_dir=arguments.work_dir)
        print(f"{name}: done in {time.perf_counter() - started:.0f} s", flush=True)
    print(markdown_table(arguments.names or None))


if __name__ == "__main__":
    main()
