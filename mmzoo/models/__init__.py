"""Model builders and the registry of named architectures."""

from mmzoo.models import architectures as _architectures  # noqa: F401  (registers the names)
from mmzoo.models.classifier import (
    TASKS,
    MultimodalClassifier,
    build_classifier,
    task_of,
    with_modality_weights,
)
from mmzoo.models.registry import create_model, list_models, model_config, register_model

__all__ = ["TASKS", "MultimodalClassifier", "build_classifier", "create_model", "list_models",
           "model_config", "register_model", "task_of", "with_modality_weights"]
