"""The zoo: presets (a model + its preprocessing + provenance) and where their files come from.

Example:
    >>> import mmzoo
    >>> mmzoo.list_presets("*avmnist*")  # doctest: +SKIP
    >>> preset = mmzoo.load_preset("gated_lenet_avmnist")  # doctest: +SKIP
    >>> model = preset.model(num_classes=5)  # doctest: +SKIP
"""

from mmzoo.zoo.fetch import ChecksumError, DownloadError, mmzoo_home
from mmzoo.zoo.preset import (
    Preset,
    from_preset,
    load_preprocessor,
    load_preset,
    migrate_preset,
    preset_info,
    registry_entry,
    save_to_preset,
)
from mmzoo.zoo.registry import list_presets, register_preset

__all__ = ["ChecksumError", "DownloadError", "Preset", "from_preset", "list_presets",
           "load_preprocessor", "load_preset", "migrate_preset", "mmzoo_home", "preset_info",
           "register_preset", "registry_entry", "save_to_preset"]
