"""Metrics against hand computations, the ablation on a toy dataset, and the plots."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmzoo
from mmzoo import evaluation
from mmzoo.specs import AudioSpec, ImageSpec

LABELS = np.array([0, 0, 1, 1, 2, 2, 2, 0])
PROBABILITIES = np.array([
    [0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.2, 0.5, 0.3], [0.1, 0.8, 0.1],
    [0.1, 0.1, 0.8], [0.5, 0.2, 0.3], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1],
])


def rank_auc(positive_scores, negative_scores):
    """ROC-AUC as the probability a positive outranks a negative (ties count half)."""
    wins = sum((p > n) + 0.5 * (p == n) for p in positive_scores for n in negative_scores)
    return wins / (len(positive_scores) * len(negative_scores))


def test_multiclass_report_matches_hand_computations():
    report = evaluation.classification_report(LABELS, PROBABILITIES, ["a", "b", "c"])
    predicted = PROBABILITIES.argmax(1)
    assert report["accuracy"] == pytest.approx(np.mean(predicted == LABELS))
    matrix = np.zeros((3, 3), int)
    for true, guess in zip(LABELS, predicted):
        matrix[true, guess] += 1
    assert report["confusion_matrix"] == matrix.tolist()
    precision = np.diag(matrix) / matrix.sum(0)
    recall = np.diag(matrix) / matrix.sum(1)
    f1 = 2 * precision * recall / (precision + recall)
    assert report["macro_precision"] == pytest.approx(precision.mean())
    assert report["macro_recall"] == pytest.approx(recall.mean())
    assert report["macro_f1"] == pytest.approx(f1.mean())
    one_vs_rest = [rank_auc(PROBABILITIES[LABELS == c, c], PROBABILITIES[LABELS != c, c])
                   for c in range(3)]
    assert report["roc_auc"] == pytest.approx(np.mean(one_vs_rest))


def test_binary_report_from_one_sigmoid_unit():
    labels = np.array([0, 1, 1, 0, 1])
    scores = np.array([[0.2], [0.9], [0.4], [0.6], [0.7]])
    report = evaluation.classification_report(labels, scores)
    assert report["accuracy"] == pytest.approx(np.mean((scores[:, 0] >= 0.5) == labels))
    assert report["roc_auc"] == pytest.approx(rank_auc(scores[labels == 1, 0], scores[labels == 0, 0]))


def test_multilabel_report_thresholds_at_one_half():
    labels = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    scores = np.array([[0.9, 0.2], [0.6, 0.4], [0.3, 0.7], [0.1, 0.8]])
    report = evaluation.classification_report(labels, scores)
    assert report["accuracy"] == pytest.approx(0.5)  # exact-match rows: the first and third
    assert "confusion_matrix" not in report


def test_class_names_must_match_the_classes():
    with pytest.raises(ValueError, match="class_names has 2 names for a model with 3 classes"):
        evaluation.classification_report(LABELS, PROBABILITIES, ["a", "b"])


def image_only_toy_data(size, seed):
    """Image brightness carries the label; the audio is noise, unrelated to it."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size)
    features = {
        "image": (labels[:, None, None, None] * 200.0 + rng.uniform(0, 50, (size, 8, 8, 1))
                  ).astype("float32"),
        "audio": rng.normal(0, 0.3, (size, 2000)).astype("float32"),
        "image_present": np.ones(size, "float32"),
        "audio_present": np.ones(size, "float32"),
    }
    return tf.data.Dataset.from_tensor_slices((features, labels)).batch(32)


@pytest.fixture(scope="module")
def trained_on_image_only():
    keras.utils.set_random_seed(0)
    model = mmzoo.build_classifier(
        image=ImageSpec(8, 8, 1), audio=AudioSpec(8000, 0.25, num_mel_bins=16, fft_length=128,
                                                  hop_length=64),
        encoders={"image": {"width": 4, "depth": 1}, "audio": {"width": 4, "depth": 1}},
        embedding_dim=8, fusion="attention", num_classes=2)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    history = model.fit(image_only_toy_data(256, 0), epochs=8, verbose=0)
    return model, history.history


def test_ablation_shows_the_drop_for_the_label_carrying_modality_only(trained_on_image_only):
    model, _ = trained_on_image_only
    rows = {row["absent"]: row for row in
            evaluation.modality_ablation(model, image_only_toy_data(200, 1))}
    assert rows[None]["accuracy"] > 0.95
    assert rows["audio"]["accuracy"] > 0.95  # audio carried nothing
    assert rows["image"]["accuracy"] < 0.65  # without the image: about chance


def test_logit_models_report_probabilities():
    model = mmzoo.build_classifier(image=ImageSpec(8, 8, 1), num_classes=3,
                                   classifier_activation=None,
                                   encoders={"image": {"width": 2, "depth": 1}})
    features = {"image": np.zeros((4, 8, 8, 1), "float32"), "image_present": np.ones(4, "float32")}
    labels, probabilities = evaluation.predict_dataset(
        model, tf.data.Dataset.from_tensor_slices((features, np.zeros(4, int))).batch(2))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_plots_are_written_as_png(trained_on_image_only, tmp_path):
    model, history = trained_on_image_only
    data = image_only_toy_data(64, 2)
    report = evaluation.evaluate(model, data, class_names=["dark", "bright"])
    labels = np.concatenate([y for _, y in data])
    weights = mmzoo.with_modality_weights(model).predict(data.map(lambda x, y: x), verbose=0)
    paths = [
        evaluation.plot_history(history, tmp_path / "curves.png"),
        evaluation.plot_confusion_matrix(report, tmp_path / "confusion.png"),
        evaluation.plot_ablation(evaluation.modality_ablation(model, data), tmp_path / "ablation.png"),
        evaluation.plot_modality_weights(weights["modality_weights"], labels,
                                         tmp_path / "weights.png", ["dark", "bright"],
                                         ["image", "audio"]),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
