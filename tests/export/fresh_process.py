"""Run exported SavedModels where a TF Serving user would: a process with TensorFlow only.

Usage: ``python tests/export/fresh_process.py REQUESTS RESULTS``. ``REQUESTS`` is a
pickle of ``{key: {"path": version_dir, "calls": {call_name: (signature, inputs)}}}``;
``RESULTS`` receives ``{key: {call_name: {output: numpy array}}}``, or for a call that
raised, ``(error type name, message)``. No mmzoo and no TensorFlow Text (as in TF
Serving, whose TF Text is old): only ``tf.saved_model.load`` and the signatures.
"""

import os
import pickle
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def main(requests_path: str, results_path: str) -> None:
    with open(requests_path, "rb") as file:
        requests = pickle.load(file)
    results = {}
    for key, request in requests.items():
        loaded = tf.saved_model.load(request["path"])
        results[key] = {}
        for call, (signature, inputs) in request["calls"].items():
            try:
                outputs = loaded.signatures[signature](**{k: tf.constant(v)
                                                          for k, v in inputs.items()})
            except Exception as error:  # what a bad request gets is for the caller to check
                results[key][call] = (type(error).__name__, getattr(error, "message", str(error)))
                continue
            results[key][call] = {name: np.asarray(value) for name, value in outputs.items()}
    assert not [m for m in sys.modules if m.split(".")[0] in ("mmzoo", "tests")], "imported mmzoo"
    assert "tensorflow_text" not in sys.modules, "imported TensorFlow Text"
    with open(results_path, "wb") as file:
        pickle.dump(results, file)


if __name__ == "__main__":
    main(*sys.argv[1:])
