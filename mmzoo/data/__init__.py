"""Data: sources (manifests, folders, TFDS, arrays), prepare to TFRecords, and pipelines.

Example:
    >>> from mmzoo.data import from_folder, make_dataset, prepare  # doctest: +SKIP
    >>> source = from_folder("stamps", audio_suffix="_desc_fr", first_line_only=True)  # doctest: +SKIP
    >>> dataset = make_dataset(prepare(source, preprocessor, "prepared"), preprocessor, 32)  # doctest: +SKIP
"""

from mmzoo.data.checking import check
from mmzoo.data.errors import BadDataReport, DataError, Problem
from mmzoo.data.pipeline import make_dataset
from mmzoo.data.prepare import PreparedData, prepare
from mmzoo.data.sources import (
    Source,
    from_arrays,
    from_dataframe,
    from_folder,
    from_manifest,
    from_rows,
    from_tfds,
)

__all__ = [
    "BadDataReport", "DataError", "PreparedData", "Problem", "Source", "check", "from_arrays",
    "from_dataframe", "from_folder", "from_manifest", "from_rows", "from_tfds", "make_dataset",
    "prepare",
]
