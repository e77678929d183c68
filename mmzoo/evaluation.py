"""Evaluation: metrics, per-modality ablation, and plots saved as PNG.

Metrics come from ``sklearn.metrics`` (the reference implementations users
know); plots from matplotlib. A dataset here is a ``tf.data.Dataset`` of
``(features, labels)`` batches, as the pipelines make.

Example:
    >>> report = evaluate(model, test_dataset, class_names=names)  # doctest: +SKIP
    >>> report["accuracy"], report["macro_f1"]  # doctest: +SKIP
    >>> table = modality_ablation(model, test_dataset)  # doctest: +SKIP
    >>> plot_ablation(table, "ablation.png")  # doctest: +SKIP
"""

from __future__ import annotations

import pathlib

import numpy as np
from sklearn import metrics as sk

from mmzoo.data.transforms import mark_absent
from mmzoo.models.head import classifier_head
from mmzoo.specs import modalities as registered_modalities


def predict_dataset(model, dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, probabilities)`` over a dataset of ``(features, labels)`` batches, in one pass.

    Logit outputs (``classifier_activation=None``) are turned into probabilities.
    """
    labels, outputs = [], []
    for features, batch_labels in dataset:
        outputs.append(np.asarray(model.predict_on_batch(features)))
        labels.append(np.asarray(batch_labels))
    if not labels:
        raise ValueError("the dataset is empty: there is nothing to evaluate.")
    return np.concatenate(labels), classifier_head(model).probabilities(np.concatenate(outputs))


def classification_report(labels, probabilities, class_names=None) -> dict:
    """Accuracy, macro precision / recall / F1, ROC-AUC and the confusion matrix.

    ``labels`` are class ids (multi-class, binary) or multi-hot rows (multi-label);
    ``probabilities`` are ``(examples, classes)``, or ``(examples, 1)`` for binary.
    ROC-AUC is one-vs-rest, macro-averaged, over the classes present in ``labels``
    (None when fewer than two are). Multi-label predictions threshold at 0.5.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    multilabel = labels.ndim == 2 and labels.shape[1] > 1
    if multilabel:
        predicted = (probabilities >= 0.5).astype(int)
        num_classes = labels.shape[1]
    elif probabilities.shape[-1] == 1:  # binary: one sigmoid unit
        probabilities = np.concatenate([1 - probabilities, probabilities], axis=-1)
        predicted, num_classes = probabilities.argmax(axis=-1), 2
    else:
        predicted, num_classes = probabilities.argmax(axis=-1), probabilities.shape[-1]
    labels = labels.astype(int).reshape(predicted.shape)
    class_names = list(class_names or [str(i) for i in range(num_classes)])
    if len(class_names) != num_classes:
        raise ValueError(f"class_names has {len(class_names)} names for a model with "
                         f"{num_classes} classes; pass one name per class.")
    precision, recall, f1, _ = sk.precision_recall_fscore_support(
        labels, predicted, average="macro", labels=None if multilabel else range(num_classes),
        zero_division=0)
    report = {
        "examples": int(len(labels)),
        "accuracy": float(sk.accuracy_score(labels, predicted)),
        "macro_precision": float(precision),
        "macro_recall": float(recall),
        "macro_f1": float(f1),
        "roc_auc": _roc_auc(labels, probabilities, multilabel),
        "class_names": class_names,
    }
    if not multilabel:
        report["confusion_matrix"] = sk.confusion_matrix(
            labels, predicted, labels=range(num_classes)).tolist()
    return report


def _roc_auc(labels, probabilities, multilabel):
    if multilabel:
        usable = [c for c in range(labels.shape[1]) if len(np.unique(labels[:, c])) == 2]
        return (float(sk.roc_auc_score(labels[:, usable], probabilities[:, usable], average="macro"))
                if usable else None)
    present = np.unique(labels)
    if len(present) < 2:
        return None
    if probabilities.shape[1] == 2:
        return float(sk.roc_auc_score(labels, probabilities[:, 1]))
    one_hot = labels[:, None] == present[None, :]
    return float(sk.roc_auc_score(one_hot, probabilities[:, present], average="macro"))


def evaluate(model, dataset, class_names=None) -> dict:
    """:func:`classification_report` of ``model`` on ``dataset``."""
    labels, probabilities = predict_dataset(model, dataset)
    return classification_report(labels, probabilities, class_names)


def modality_ablation(model, dataset, class_names=None) -> list[dict]:
    """Metrics with all modalities, then with each one marked absent.

    Returns rows ``{"absent": None | modality, "accuracy", "macro_f1", ...}``:
    how much each modality carries, as the model uses it.
    """
    modalities = [m for m in registered_modalities() if m in model.input]
    rows = []
    for absent in [None, *modalities]:
        data = dataset if absent is None else mark_absent(dataset, [absent])
        report = evaluate(model, data, class_names)
        rows.append({"absent": absent, **{k: report[k] for k in
                                          ("accuracy", "macro_f1", "roc_auc", "examples")}})
    return rows


def _figure(path, draw, size=(6.4, 4.8)):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=size)
    draw(axes)
    figure.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_history(history: dict, path, title="Training curves"):
    """Loss and metric curves per epoch from a Keras ``History.history`` dict."""
    def draw(axes):
        for name, values in history.items():
            if name.startswith("val_") or name == "learning_rate":
                continue
            line, = axes.plot(range(1, len(values) + 1), values, label=f"train {name}")
            if f"val_{name}" in history:
                axes.plot(range(1, len(values) + 1), history[f"val_{name}"], "--",
                          color=line.get_color(), label=f"validation {name}")
        axes.set(title=title, xlabel="epoch")
        axes.legend()
        axes.grid(alpha=0.3)

    return _figure(path, draw)


def plot_confusion_matrix(report: dict, path, title="Confusion matrix (rows: true class)"):
    """The confusion matrix of a :func:`classification_report`, rows normalized."""
    matrix = np.asarray(report["confusion_matrix"], dtype=float)
    names = report["class_names"]
    normalized = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)

    def draw(axes):
        image = axes.imshow(normalized, cmap="Blues", vmin=0, vmax=1)
        axes.figure.colorbar(image, ax=axes, label="fraction of the true class")
        ticks = range(len(names))
        axes.set_xticks(ticks, names, rotation=60, ha="right", fontsize=8)
        axes.set_yticks(ticks, names, fontsize=8)
        axes.set(title=title, xlabel="predicted class", ylabel="true class")
        if len(names) <= 20:
            for i, j in np.ndindex(matrix.shape):
                axes.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7,
                          color="white" if normalized[i, j] > 0.5 else "black")

    size = max(4.8, 0.45 * len(names) + 2.5)
    return _figure(path, draw, size=(size + 1.0, size))


def plot_ablation(rows: list[dict], path, title="Per-modality ablation"):
    """Bars of accuracy and macro-F1 with all modalities and with each one absent."""
    labels = ["all present" if r["absent"] is None else f"no {r['absent']}" for r in rows]

    def draw(axes):
        positions = np.arange(len(rows))
        for offset, metric in ((-0.2, "accuracy"), (0.2, "macro_f1")):
            values = [r[metric] for r in rows]
            bars = axes.bar(positions + offset, values, width=0.4, label=metric)
            axes.bar_label(bars, fmt="%.2f", fontsize=8)
        axes.set_xticks(positions, labels)
        axes.set(title=title, ylabel="score", ylim=(0, 1.05))
        axes.legend()

    return _figure(path, draw)


def plot_modality_weights(weights, labels, path, class_names=None, modalities=None,
                          title="Mean learned modality weights per true class"):
    """Stacked bars: the fusion's mean modality weights for the examples of each class.

    ``weights`` is ``(examples, modalities)`` from :func:`mmzoo.with_modality_weights`.
    """
    weights, labels = np.asarray(weights), np.asarray(labels).astype(int)
    classes = sorted(np.unique(labels))
    names = class_names or [str(c) for c in range(max(classes) + 1)]
    modalities = modalities or [f"modality {i}" for i in range(weights.shape[1])]
    means = np.stack([weights[labels == c].mean(axis=0) for c in classes])

    def draw(axes):
        bottom = np.zeros(len(classes))
        for i, modality in enumerate(modalities):
            axes.bar(range(len(classes)), means[:, i], bottom=bottom, label=modality)
            bottom += means[:, i]
        axes.set_xticks(range(len(classes)), [names[c] for c in classes], rotation=60,
                        ha="right", fontsize=8)
        axes.set(title=title, ylabel="mean weight", ylim=(0, 1.0))
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))

    return _figure(path, draw)
