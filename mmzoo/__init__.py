"""mmzoo: a TensorFlow/Keras model zoo for text + image + audio classification.

Example:
    >>> import mmzoo
    >>> model = mmzoo.create_model("attention_tiny", num_classes=3)
    >>> model = mmzoo.build_classifier(image=mmzoo.ImageSpec(28, 28, 1),
    ...                                audio=mmzoo.AudioSpec(8000, 1.0), num_classes=10)

``import mmzoo`` imports neither TensorFlow nor Keras: each public name (``__all__``) and
each submodule (``mmzoo.data``, ...) is imported the first time it is used
(``mmzoo.train``, ``from mmzoo import train``) by a module ``__getattr__`` (PEP 562, made by
``lazy_loader``); ``dir(mmzoo)`` lists them all. So ``mmzoo --help`` starts at once, and
TensorFlow loads when a command or a call needs it (``EAGER_IMPORT=1`` imports everything
at once, e.g. to see an import error early).
"""

import itertools
import pkgutil

import lazy_loader

from mmzoo._version import __version__  # noqa: F401  (re-exported)

#: The public names, by the module that defines them.
_PUBLIC = {
    "backbones": ["backbone_names", "backbone_spec"],
    "distribute": ["get_strategy"],
    "export": ["export_saved_model"],
    "fusion": ["list_fusions", "register_fusion"],
    "models": ["build_classifier", "create_model", "list_models", "with_modality_weights"],
    "specs": ["AudioSpec", "ImageSpec", "TextSpec"],
    "training": ["TrainConfig", "balanced_class_weights", "train"],
    "zoo": ["Preset", "from_preset", "list_presets", "load_preprocessor", "load_preset",
            "migrate_preset", "preset_info", "save_to_preset"],
}
__getattr__, __dir__, _ = lazy_loader.attach(
    __name__, [module.name for module in pkgutil.iter_modules(__path__)
               if not module.name.startswith("_")], _PUBLIC)
__all__ = sorted(["serving", *itertools.chain(*_PUBLIC.values())])
