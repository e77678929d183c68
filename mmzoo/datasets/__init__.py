"""TFDS builders for the real datasets the zoo is trained on.

Importing this package registers ``avmnist`` and ``stamps`` with TFDS. They read local
files from ``$MMZOO_DATA_DIR`` (default ``<repo>/../shared/data``), never the network.

Example:
    >>> import tensorflow_datasets as tfds
    >>> import mmzoo.datasets
    >>> train, test = tfds.load("avmnist", split=["train", "test"])
    >>> stamps = tfds.builder("stamps", data_dir="/tmp/tfds")
"""

from mmzoo.datasets.avmnist import Avmnist
from mmzoo.datasets.manual_dir import ENV_VAR, default_manual_dir, require_sources
from mmzoo.datasets.stamps import Stamps

__all__ = ["Avmnist", "Stamps", "ENV_VAR", "default_manual_dir", "require_sources"]
