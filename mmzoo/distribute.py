"""One string picks the ``tf.distribute`` strategy; tf.data service for heavy input pipelines.

Example:
    >>> strategy = get_strategy("auto")  # TPU, multi-worker, mirrored GPUs, one GPU or default
    >>> with strategy.scope():
    ...     model = mmzoo.create_model("concat_tiny", num_classes=3)  # doctest: +SKIP
    >>> get_strategy("cpu").num_replicas_in_sync
    1
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

#: The names :func:`get_strategy` takes.
STRATEGIES = ("auto", "default", "cpu", "gpu", "one_device", "mirrored", "multi_worker", "tpu")


def get_strategy(name: str = "auto", *, tpu: str | None = None) -> tf.distribute.Strategy:
    """The ``tf.distribute.Strategy`` called ``name``, checked against the hardware found.

    ``"auto"`` takes, in order: a TPU when a TPU cluster resolver finds one, a
    ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG`` names several workers, a
    ``MirroredStrategy`` over several GPUs, a ``OneDeviceStrategy`` on one GPU,
    and the default strategy otherwise.

    Args:
        name: one of :data:`STRATEGIES`. ``"cpu"``: one CPU device. ``"gpu"`` or
            ``"one_device"``: the first GPU. ``"mirrored"``: every GPU, or every
            logical CPU device when there is no GPU. ``"multi_worker"``: the cluster
            in ``TF_CONFIG``. ``"tpu"``: the TPU ``tpu`` names (a name, a
            ``grpc://`` address or ``"local"``; None uses ``$TPU_NAME``).
        tpu: the TPU to connect to, for ``"tpu"`` and ``"auto"``.

    Raises:
        ValueError: for an unknown name, or hardware the strategy needs that is absent.

    Example:
        >>> get_strategy("gpu")  # doctest: +SKIP
        ValueError: get_strategy('gpu') needs a GPU, but TensorFlow sees none ...
    """
    key = str(name).lower()
    if key not in STRATEGIES:
        raise ValueError(f"strategy={name!r} is unknown; use one of {list(STRATEGIES)}.")
    if key == "auto":
        key = _auto_strategy_name(tpu)
    if key == "default":
        return tf.distribute.get_strategy()
    if key == "cpu":
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    if key == "multi_worker":
        workers = cluster_workers()
        if workers < 2:
            raise ValueError(
                f"get_strategy({name!r}) needs TF_CONFIG naming at least two workers, but "
                f"{'TF_CONFIG is unset' if workers == 0 else 'its cluster has one worker'}; set "
                'TF_CONFIG on every worker, e.g. {"cluster": {"worker": ["host1:2222", '
                '"host2:2222"]}, "task": {"type": "worker", "index": 0}}, or use '
                "'mirrored' on a single machine.")
        return _KerasMultiWorkerMirroredStrategy()
    if key == "tpu":
        return _tpu_strategy(name, tpu)
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]  # starts TF
    if key in ("gpu", "one_device"):
        if not gpus:
            raise ValueError(f"get_strategy({name!r}) needs a GPU, but TensorFlow sees none "
                             "(tf.config.list_logical_devices('GPU') is empty); install a "
                             "GPU build of TensorFlow and its drivers, or use 'cpu' or 'auto'.")
        return tf.distribute.OneDeviceStrategy(gpus[0])
    return tf.distribute.MirroredStrategy(
        gpus or [device.name for device in tf.config.list_logical_devices("CPU")])


def _tpu_strategy(name: str, tpu: str | None) -> tf.distribute.TPUStrategy:
    resolver = _find_tpu(tpu)
    if resolver is None:
        raise ValueError(f"get_strategy({name!r}) found no TPU (tpu={tpu!r}, "
                         f"$TPU_NAME={os.environ.get('TPU_NAME')!r}); run on a Cloud TPU VM "
                         "(tpu='local'), pass the TPU's name or address, or use 'auto'.")
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def cluster_workers() -> int:
    """How many chief and worker tasks ``$TF_CONFIG`` names (0 when it is unset)."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return 0
    try:
        cluster = json.loads(text).get("cluster", {})
    except (json.JSONDecodeError, AttributeError) as error:
        raise ValueError(f"TF_CONFIG is not a JSON object ({error}); set it to e.g. "
                         '{"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
                         '"task": {"type": "worker", "index": 0}}.') from None
    return len(cluster.get("chief", [])) + len(cluster.get("worker", []))


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the shared outputs: always, except non-chief multi-workers."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return True
    if resolver.task_type in (None, "chief"):
        return True
    return (resolver.task_type == "worker" and resolver.task_id == 0
            and "chief" not in resolver.cluster_spec().as_dict())


def use_data_service(dataset: tf.data.Dataset, service: str, *,
                     processing_mode: str = "distributed_epoch",
                     job_name: str | None = None) -> tf.data.Dataset:
    """Run ``dataset``'s preprocessing on tf.data service workers instead of this process.

    Args:
        dataset: any ``tf.data.Dataset`` built from TF ops (no ``py_function``: the
            workers run its graph).
        service: the dispatcher's address, e.g. ``"grpc://10.0.0.2:5050"``.
        processing_mode: ``"distributed_epoch"`` splits the data among the workers
            (each element once per epoch); ``"parallel_epochs"`` has every worker
            produce the whole dataset.
        job_name: consumers sharing a job name share its elements.

    Example:
        >>> dataset = use_data_service(tf.data.Dataset.range(10), "grpc://localhost:5050")  # doctest: +SKIP
    """
    return dataset.apply(tf.data.experimental.service.distribute(
        processing_mode, service, job_name=job_name))


def _auto_strategy_name(tpu: str | None) -> str:
    if _find_tpu(tpu) is not None:
        return "tpu"
    if cluster_workers() > 1:
        return "multi_worker"
    gpus = len(tf.config.list_logical_devices("GPU"))
    return "mirrored" if gpus > 1 else "one_device" if gpus == 1 else "default"


def _find_tpu(tpu: str | None):
    """A ``TPUClusterResolver`` for ``tpu``, or None when there is no TPU to connect to."""
    try:
        return tf.distribute.cluster_resolver.TPUClusterResolver(tpu)
    except (ValueError, RuntimeError, ImportError):
        return None


class _KerasMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """``MultiWorkerMirroredStrategy`` whose ``reduce`` takes what Keras 3 ``fit`` passes it.

    Keras 3 reduces a whole batch (a dict of tensors) and scalar metrics with
    ``axis=0`` across workers, which ``MultiWorkerMirroredStrategy.reduce``
    rejects (keras-team/keras#20329). This reduces leaf by leaf, scalars without axis.
    """

    def reduce(self, reduce_op, value, axis):
        def reduce_leaf(leaf):
            rank = self.experimental_local_results(leaf)[0].shape.rank
            return super(_KerasMultiWorkerMirroredStrategy, self).reduce(
                reduce_op, leaf, None if rank == 0 else axis)

        return tf.nest.map_structure(reduce_leaf, value)
