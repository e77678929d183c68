"""The zoo: presets (a model + its preprocessing + provenance) and where their files come from.

Example:
    >>> import mmzoo
    >>> mmzoo.list_presets("*avmnist*")  # doctest: +SKIP
    >>> model = mmzoo.from_preset("gated_lenet_avmnist", num_classes=5)  # doctest: +SKIP
"""

from mmzoo.zoo.fetch import ChecksumError, DownloadError, mmzoo_home
from mmzoo.zoo.preset import (
    from_preset,
    load_preprocessor,
    preset_info,
    registry_entry,
    save_to_preset,
)
from mmzoo.zoo.registry import list_presets, register_preset

__all__ = ["ChecksumError", "DownloadError", "from_preset", "list_presets", "load_preprocessor",
           "mmzoo_home", "preset_info", "register_preset", "registry_entry", "save_to_preset"]
