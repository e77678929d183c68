"""``make demo``: fine-tune a zoo checkpoint on raw files, evaluate, export, serve, plot.

The job a user does with mmzoo, end to end, in a few minutes on a laptop CPU:

1. **data**: the Tux Paint stamps, from ``$MMZOO_DATA_DIR/stamps``, ``../shared/data/stamps``
   or ``/usr/share/tuxpaint/stamps`` (whichever is found first), written as CSV manifests
   of raw files (description, drawing, French narration) for a new task, *is it alive?*
   (animals, people and plants vs the other categories), split like the ``stamps`` TFDS
   dataset so the test stamps are ones the checkpoint never saw. Without the stamps: a
   small generated sample of drawings, tones and sentences for the same two classes.
2. **zoo checkpoint** ``concat_small_stamps`` (16 categories) with a new two-class head;
3. **fine-tuning** with :func:`mmzoo.train` on TFRecords made once by :func:`mmzoo.data.prepare`;
4. **evaluation** on the test split, and with each modality marked absent;
5. **export** of a SavedModel for TF Serving, and a **served prediction**: a gRPC
   ``PredictRequest`` of raw files, fed to the SavedModel's signature as TF Serving does;
6. **plots**: training curves, confusion matrix, per-modality ablation.

Example:
    python -m mmzoo.demo --output out/demo
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import pathlib
import shutil
import time

import numpy as np

from mmzoo._startup import import_tensorflow_quietly

# ruff: noqa: E402 - TensorFlow is imported before the imports below: no start-up lines
import_tensorflow_quietly()

import mmzoo
from mmzoo import evaluation
from mmzoo.data import from_manifest, make_dataset, prepare
from mmzoo.datasets.manual_dir import default_manual_dir
from mmzoo.datasets.stamps import find_stamps, read_description, stamp_files, stratified_split
from mmzoo.finetuning import freeze_encoders

PRESET = "concat_small_stamps"
CLASS_NAMES = ("living", "non-living")
LIVING_CATEGORIES = ("animals", "people", "plants")
SYSTEM_STAMPS = pathlib.Path("/usr/share/tuxpaint/stamps")
SEED = 2024
TRAIN = mmzoo.TrainConfig(epochs=15, batch_size=32, learning_rate=1e-3, patience=4,
                          class_weight="balanced",
                          seed=SEED, deterministic=True, verbose=2)


def find_stamps_dir() -> pathlib.Path | None:
    """The first stamps folder found: ``$MMZOO_DATA_DIR/stamps``, ``../shared/data/stamps``, the system's."""
    for folder in (default_manual_dir() / "stamps", SYSTEM_STAMPS):
        if folder.is_dir() and any(folder.rglob("*.png")):
            return folder
    return None


def stamps_manifests(stamps_dir: pathlib.Path, folder: pathlib.Path) -> dict[str, pathlib.Path]:
    """``train`` / ``validation`` / ``test`` CSV manifests of the stamps, labelled living or not."""
    splits = stratified_split(find_stamps(stamps_dir))
    manifests = {}
    for split, stamp_ids in splits.items():
        rows = []
        for stamp_id in stamp_ids:
            files = stamp_files(stamps_dir, stamp_id)
            living = stamp_id.split("/", 1)[0] in LIVING_CATEGORIES
            rows.append({"text": read_description(files["description"]),
                         "image": files["drawing"],
                         "audio": files["narration"] if files["narration"].exists() else "",
                         "label": CLASS_NAMES[0] if living else CLASS_NAMES[1]})
        manifests[split] = write_manifest(rows, folder / f"{split}.csv")
    return manifests


def generated_manifests(folder: pathlib.Path, sizes=(("train", 200), ("validation", 50),
                                                      ("test", 100))) -> dict[str, pathlib.Path]:
    """Manifests of generated files: green round drawings, chirps and plant words for
    "living"; grey boxes, hums and object words for "non-living"; a few modalities missing."""
    import cv2
    import soundfile

    rng = np.random.default_rng(SEED)
    words = {0: ["a", "green", "tree", "flower", "bird", "leaf", "frog"],
             1: ["a", "grey", "box", "car", "house", "clock", "chair"]}
    manifests = {}
    for split, size in sizes:
        rows = []
        for index in range(size):
            label = int(rng.integers(0, 2))
            stem = folder / "files" / f"{split}-{index:03d}"
            stem.parent.mkdir(parents=True, exist_ok=True)
            canvas = np.full((64, 64, 3), 255, np.uint8)
            center, radius = tuple(int(v) for v in rng.integers(20, 44, 2)), int(rng.integers(8, 18))
            if label == 0:
                cv2.circle(canvas, center, radius, (40, 170, 40), -1)
            else:
                cv2.rectangle(canvas, (center[0] - radius, center[1] - radius),
                              (center[0] + radius, center[1] + radius), (120, 120, 120), -1)
            cv2.imwrite(f"{stem}.png", canvas)
            seconds = np.arange(16000) / 16000
            pitch = 1200.0 + 800.0 * seconds if label == 0 else 180.0 + 0 * seconds
            wave = 0.4 * np.sin(2 * np.pi * pitch * seconds) + rng.normal(0, 0.05, seconds.size)
            soundfile.write(f"{stem}.wav", wave.astype("float32"), 16000)
            text = " ".join(rng.choice(words[label], 4))
            rows.append({"text": "" if rng.random() < 0.1 else text, "image": f"{stem}.png",
                         "audio": "" if rng.random() < 0.1 else f"{stem}.wav",
                         "label": CLASS_NAMES[label]})
        manifests[split] = write_manifest(rows, folder / f"{split}.csv")
    return manifests


def write_manifest(rows: list[dict], path: pathlib.Path) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, ["text", "image", "audio", "label"])
        writer.writeheader()
        # absolute paths: the manifest's relative paths would be read from its own folder
        writer.writerows({**row, **{key: str(pathlib.Path(row[key]).resolve()) if row[key] else ""
                                    for key in ("image", "audio")}} for row in rows)
    return path


def served_predictions(version_dir: pathlib.Path, rows: list[dict]) -> list[dict]:
    """Ask the exported model about manifest rows the way TF Serving's gRPC API does:
    one ``PredictRequest`` of raw bytes, its tensors fed to the named signature."""
    import tensorflow as tf

    request = mmzoo.serving.predict_request(
        "stamps_living", text=[row["text"] for row in rows],
        image_bytes=[pathlib.Path(row["image"]).read_bytes() for row in rows],
        audio_bytes=[wav_bytes(row["audio"]) for row in rows])
    signature = tf.saved_model.load(str(version_dir)).signatures[request.model_spec.signature_name]
    outputs = signature(**{name: tf.constant(tf.make_ndarray(proto))
                           for name, proto in request.inputs.items()})
    return [{"class_name": name.decode(), "probabilities": [round(float(p), 4) for p in row]}
            for name, row in zip(outputs["class_names"].numpy(), outputs["probabilities"].numpy(),
                                 strict=True)]


def wav_bytes(path: str) -> bytes:
    """The file as WAV bytes (the SavedModel reads WAV: a client converts other formats); b"" if no path."""
    import soundfile

    if not path:
        return b""
    wave, rate = soundfile.read(path, dtype="float32")
    buffer = io.BytesIO()
    soundfile.write(buffer, wave, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mmzoo.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="out/demo", help="folder for everything the demo writes")
    output = pathlib.Path(parser.parse_args(argv).output)
    started = time.perf_counter()
    if output.exists():  # every run starts afresh (train() would otherwise resume)
        shutil.rmtree(output)
    import keras

    keras.utils.set_random_seed(SEED)

    stamps_dir = find_stamps_dir()
    if stamps_dir:
        print(f"[1/6] data: real Tux Paint stamps from {stamps_dir}, task 'is it alive?' "
              f"({', '.join(LIVING_CATEGORIES)} vs the rest)")
        manifests = stamps_manifests(stamps_dir, output / "data")
    else:
        print("[1/6] data: no Tux Paint stamps found (set $MMZOO_DATA_DIR, or install "
              "tuxpaint-stamps-default); using a small generated sample")
        manifests = generated_manifests(output / "data")
    sources = {split: from_manifest(path, class_names=CLASS_NAMES) for split, path in manifests.items()}
    for split, source in sources.items():
        print(f"      {split}: {len(source.origins)} examples ({manifests[split]})")

    preset = mmzoo.load_preset(PRESET)
    print(f"[2/6] zoo checkpoint {PRESET}: {preset.info['description']}")
    preprocessor = preset.preprocessor

    def fine_tuned_model():
        model = preset.model(num_classes=len(CLASS_NAMES))  # a new 2-class head
        freeze_encoders(model)  # train the fusion and the head; the encoders keep what they know
        return model

    print(f"[3/6] fine-tuning: the files decoded once into TFRecords, then up to {TRAIN.epochs} "
          "epochs with the encoders frozen")
    prepared = {split: prepare(source, preprocessor, output / "prepared" / split, num_shards=2,
                               on_error="skip")
                for split, source in sources.items() if split != "test"}
    history = mmzoo.train(fine_tuned_model, prepared["train"],
                          TRAIN.replace(output_dir=str(output / "run")),
                          validation_data=prepared["validation"], preprocessor=preprocessor)
    model = history.model

    test = make_dataset(sources["test"], preprocessor, 64, drop_remainder=False, on_error="skip")
    report = evaluation.evaluate(model, test, CLASS_NAMES)
    ablation = evaluation.modality_ablation(model, test, CLASS_NAMES)
    majority = np.asarray(report["confusion_matrix"]).sum(axis=1).max() / report["examples"]
    print(f"[4/6] test: {report['examples']} examples, accuracy {report['accuracy']:.3f}, "
          f"macro-F1 {report['macro_f1']:.3f}, ROC-AUC {report['roc_auc']:.3f}"
          f" (always the majority class: accuracy {majority:.3f})")
    for row in ablation[1:]:
        print(f"      {row['absent']} absent: accuracy {row['accuracy']:.3f}, "
              f"macro-F1 {row['macro_f1']:.3f}")

    preset = mmzoo.save_to_preset(model, output / "preset", class_names=CLASS_NAMES,
                                  preprocessor=preprocessor, metadata={
                                      "description": f"{PRESET} fine-tuned by make demo"})
    version_dir = mmzoo.export_saved_model(preset, output / "serving" / "stamps_living")
    print(f"[5/6] exported SavedModel: {version_dir} (preset {preset})")
    answers = []
    with open(manifests["test"], newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    asked = [0, len(rows) // 2, len(rows) - 1]  # the first, middle and last test examples
    in_process = evaluation.predict_dataset(model, test)[1][asked]
    for index, answer, keras_probabilities in zip(
            asked, served_predictions(version_dir, [rows[i] for i in asked]), in_process, strict=True):
        row = rows[index]
        print(f"      served: {pathlib.Path(row['image']).name} ({row['text']!r}): "
              f"{answer['class_name']} {answer['probabilities']} (true class {row['label']}; "
              f"the Keras model in this process: {[round(float(p), 4) for p in keras_probabilities]})")
        answers.append({**answer, "row": row, "keras_probabilities": keras_probabilities.tolist()})

    plots = output / "plots"
    paths = [evaluation.plot_history(history.history, plots / "training_curves.png",
                                     title=f"Fine-tuning {PRESET}: loss and accuracy per epoch"),
             evaluation.plot_confusion_matrix(report, plots / "confusion_matrix.png",
                                              title="Test confusion matrix (rows: true class)"),
             evaluation.plot_ablation(ablation, plots / "modality_ablation.png",
                                      title="Test scores with each modality marked absent")]
    (output / "report.json").write_text(json.dumps(
        {"data": str(stamps_dir or "generated"), "test": report, "ablation": ablation,
         "served_predictions": answers}, indent=2, default=str))
    print(f"[6/6] plots: {', '.join(str(p) for p in paths)}")
    print(f"done in {time.perf_counter() - started:.0f} s; everything is under {output}/")


if __name__ == "__main__":
    main()
