"""Tux Paint stamps: drawing + English description + French narration, 16 categories.

Each stamp is a ``<category>/[<subcategory>/]<name>.png`` under ``stamps/`` in the
manual dir (961 stamps, from Debian ``tuxpaint-stamps-default`` 2022.06.04, GPL-2):

* ``image``: the PNG bytes as they are (RGBA, RGB, grey or palette, variable size),
  decoded as uint8 RGBA (opaque alpha when the file has none); present for all.
* ``text``: line 1 of ``<name>.txt`` (e.g. "A frog."); "" when the file is missing.
* ``audio``: ``<name>_desc_fr.ogg``, a French narration of the description, decoded
  with librosa, mixed to mono, resampled to 16 kHz, variable length, int16 PCM
  (divide by 32768 for :class:`mmzoo.specs.AudioSpec`); empty when missing.
* ``sound_effect``: ``<name>.ogg`` (animal sounds and the like), same format; an
  optional extra feature, present for 134 stamps.
* ``*_present``: 1.0 when the modality's file exists, else 0.0.
* ``label``: the top-level category folder (16 classes, sorted names).
* ``id``: the stamp's path relative to ``stamps/`` without suffix, e.g. ``animals/birds/duck``.

Splits are stratified by category with seed 2024: per category, 15% (rounded half up)
of the stamps go to test, 15% to validation and the rest to train, so every category
has train examples (naturalforces, with 3 stamps, has all 3 in train).

Example:
    >>> import tensorflow_datasets as tfds
    >>> import mmzoo.datasets  # registers the builders
    >>> train = tfds.load("stamps", split="train")  # reads $MMZOO_DATA_DIR/stamps
"""

from __future__ import annotations

import os
import pathlib
from concurrent.futures import ThreadPoolExecutor

import librosa
import numpy as np
import tensorflow_datasets as tfds

from mmzoo.datasets.manual_dir import ManualDirBuilder

SEED = 2024
SAMPLE_RATE = 16000
EVAL_FRACTION = 0.15
AUDIO_DOC = "16 kHz mono int16 PCM (divide by 32768 for [-1, 1]); empty when missing."
CATEGORIES = (
    "animals", "clothes", "food", "hobbies", "household", "medical", "military",
    "naturalforces", "people", "plants", "seasonal", "space", "sports", "symbols", "town",
    "vehicles",
)
CITATION = """\
@misc{tuxpaint_stamps, title={Tux Paint Stamps (tuxpaint-stamps-default 2022.06.04)},
  author={{New Breed Software and the Tux Paint contributors}},
  howpublished={\\url{https://tuxpaint.org/}}, note={GPL-2}, year={2022}}
"""


def find_stamps(stamps_dir: pathlib.Path) -> list[str]:
    """The ids of all stamps under ``stamps_dir``, sorted: ``['animals/birds/duck', ...]``."""
    return sorted(path.relative_to(stamps_dir).with_suffix("").as_posix()
                  for path in stamps_dir.rglob("*.png"))


def stratified_split(stamp_ids: list[str], seed: int = SEED) -> dict[str, list[str]]:
    """Split ids by their category (first path part): 15% test, 15% validation, rest train.

    Example:
        >>> stratified_split(["a/1", "a/2", "a/3", "a/4"])
        {'train': ['a/1', 'a/3'], 'validation': ['a/2'], 'test': ['a/4']}
    """
    rng = np.random.default_rng(seed)
    splits = {"train": [], "validation": [], "test": []}
    by_category: dict[str, list[str]] = {}
    for stamp_id in sorted(stamp_ids):
        by_category.setdefault(stamp_id.split("/", 1)[0], []).append(stamp_id)
    for category in sorted(by_category):
        shuffled = rng.permutation(by_category[category]).tolist()
        num_eval = int(EVAL_FRACTION * len(shuffled) + 0.5)
        splits["test"] += shuffled[:num_eval]
        splits["validation"] += shuffled[num_eval:2 * num_eval]
        splits["train"] += shuffled[2 * num_eval:]
    return {split: sorted(ids) for split, ids in splits.items()}


def load_audio(path: pathlib.Path) -> np.ndarray:
    """A sound file as 16 kHz mono int16 PCM; an empty array when the file is missing."""
    if not path.exists():
        return np.zeros(0, np.int16)
    wave, _ = librosa.load(path, sr=SAMPLE_RATE, mono=True)
    return np.rint(np.clip(wave, -1.0, 32767 / 32768) * 32768).astype(np.int16)


def stamp_files(stamps_dir: pathlib.Path, stamp_id: str) -> dict[str, pathlib.Path]:
    """The files of one stamp (any but the drawing may be missing).

    Example:
        >>> stamp_files(pathlib.Path("stamps"), "animals/frog")["narration"].name
        'frog_desc_fr.ogg'
    """
    base = stamps_dir / stamp_id
    return {"drawing": base.with_suffix(".png"), "description": base.with_suffix(".txt"),
            "narration": base.with_name(f"{base.name}_desc_fr.ogg"),
            "sound_effect": base.with_suffix(".ogg")}


def read_description(path: pathlib.Path) -> str:
    """The English description (line 1 of the ``.txt``); "" when the file is missing."""
    return path.read_text(encoding="utf-8").split("\n", 1)[0].strip() if path.exists() else ""


def load_stamp(stamps_dir: pathlib.Path, stamp_id: str) -> dict:
    """The example of one stamp (see the module docstring for its features)."""
    files = stamp_files(stamps_dir, stamp_id)
    description, narration, sound_effect = (
        files["description"], files["narration"], files["sound_effect"])
    return {
        "image": files["drawing"],
        "text": read_description(description),
        "audio": load_audio(narration),
        "sound_effect": load_audio(sound_effect),
        "label": stamp_id.split("/", 1)[0],
        "image_present": 1.0,
        "text_present": float(description.exists()),
        "audio_present": float(narration.exists()),
        "sound_effect_present": float(sound_effect.exists()),
        "id": stamp_id,
    }


class Stamps(ManualDirBuilder):
    """Tux Paint stamps from local files (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: 961 stamps, stratified 70/15/15."}
    SOURCES = tuple(f"stamps/{category}" for category in CATEGORIES)

    def _info(self) -> tfds.core.DatasetInfo:
        audio = tfds.features.Tensor(shape=(None,), dtype=np.int16, encoding="bytes",
                                     doc=AUDIO_DOC)
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__.split("Example:")[0],
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 4), encoding_format="png"),
                "text": tfds.features.Text(),
                "audio": audio,
                "sound_effect": audio,
                "label": tfds.features.ClassLabel(names=CATEGORIES),
                "image_present": tfds.features.Scalar(np.float32),
                "text_present": tfds.features.Scalar(np.float32),
                "audio_present": tfds.features.Scalar(np.float32),
                "sound_effect_present": tfds.features.Scalar(np.float32),
                "id": tfds.features.Text(doc="Path under stamps/ without suffix."),
            }),
            homepage="https://tuxpaint.org/",
            citation=CITATION,
            license="GPL-2",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        stamps_dir = self.source_dir() / "stamps"
        stamp_ids = find_stamps(stamps_dir)
        unknown = {stamp_id.split("/", 1)[0] for stamp_id in stamp_ids} - set(CATEGORIES)
        if unknown:
            raise ValueError(f"{stamps_dir} has categories {sorted(unknown)} that are not in "
                             f"Stamps.CATEGORIES {CATEGORIES}: update the builder.")
        return {split: self._generate_examples(stamps_dir, ids)
                for split, ids in stratified_split(stamp_ids).items()}

    def _generate_examples(self, stamps_dir: pathlib.Path, stamp_ids: list[str]):
        with ThreadPoolExecutor(os.cpu_count()) as pool:
            examples = pool.map(lambda stamp_id: load_stamp(stamps_dir, stamp_id), stamp_ids)
            yield from zip(stamp_ids, examples, strict=True)
