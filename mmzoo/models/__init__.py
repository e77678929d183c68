"""Model builders and the registry of named architectures."""

from mmzoo.models import architectures as _architectures  # noqa: F401  (registers the names)
from mmzoo.models.classifier import MultimodalClassifier, build_classifier, with_modality_weights
from mmzoo.models.head import TASKS, ClassifierHead, classifier_head, loss_for, task_of
from mmzoo.models.registry import create_model, list_models, model_config, register_model

__all__ = ["TASKS", "ClassifierHead", "MultimodalClassifier", "build_classifier",
           "classifier_head", "create_model", "list_models", "loss_for", "model_config",
           "register_model", "task_of", "with_modality_weights"]
