"""mmzoo: a TensorFlow/Keras model zoo for text + image + audio classification.

Example:
    >>> import mmzoo
    >>> model = mmzoo.create_model("attention_tiny", num_classes=3)
    >>> model = mmzoo.build_classifier(image=mmzoo.ImageSpec(28, 28, 1),
    ...                                audio=mmzoo.AudioSpec(8000, 1.0), num_classes=10)
"""

__version__ = "0.1.0"

from mmzoo import _startup

with _startup.quiet_tensorflow_startup():  # the `mmzoo` command only: no TensorFlow start-up lines
    from mmzoo import serving
    from mmzoo.distribute import get_strategy
    from mmzoo.export import export_saved_model
    from mmzoo.fusion import list_fusions, register_fusion
    from mmzoo.models import build_classifier, create_model, list_models, with_modality_weights
    from mmzoo.specs import AudioSpec, ImageSpec, TextSpec
    from mmzoo.training import TrainConfig, balanced_class_weights, train
    from mmzoo.zoo import from_preset, list_presets, load_preprocessor, preset_info, save_to_preset

__all__ = [
    "AudioSpec", "ImageSpec", "TextSpec", "TrainConfig", "balanced_class_weights",
    "build_classifier", "create_model", "export_saved_model", "from_preset", "get_strategy",
    "list_fusions", "list_models", "list_presets", "load_preprocessor", "preset_info",
    "register_fusion", "save_to_preset", "serving", "train", "with_modality_weights",
]
