"""Several GPUs, or several machines: the one ``tf.distribute`` strategy a run trains, extracts and fine-tunes under.

Keras does the distributing: a model built inside ``strategy.scope()`` gets mirrored variables, and its
``fit``/``predict``/``evaluate`` split every batch across the replicas and add the gradients up. This module
only decides *which* strategy, once per process, and :func:`distributed` applies it around a whole run (see
``core/tasks/__init__.py: run_experiment``), so no modality has to know about it:

- ``TF_CONFIG`` names two or more workers -> ``MultiWorkerMirroredStrategy`` (``lepton train --workers
  host:port,host:port --worker-index I`` writes it with :func:`set_workers`);
- else two or more GPUs (or, for tests, two logical CPU devices) -> ``MirroredStrategy`` over them;
- else the default strategy: one device, exactly what a run did before.
- On GPUs, Keras' ``mixed_float16`` policy is on for the run (float16 maths, float32 weights); CPUs keep
  float32, since ``mixed_bfloat16`` was 25% slower there (STACK.md).
- ``train.batch_size`` is per replica: the run trains with ``batch_size x replicas`` samples per step, and its
  stored config says that global batch, so replaying it on one device takes the very same steps.
- ``LEPTON_DISTRIBUTE=off`` keeps one device and float32 whatever the machine has.

Only the chief (worker 0) keeps the run: :attr:`Distribution.is_chief`.

Example:
    >>> d = Distribution()                       # one device: nothing changes
    >>> d.replicas, d.global_batch(32), d.facts()["strategy"]
    (1, 32, 'default')
    >>> tf_config(["10.0.0.1:2222", "10.0.0.2:2222"], 1)
    '{"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, "task": {"type": "worker", "index": 1}}'
    >>> with distributed() as d:                 # doctest: +SKIP
    ...     model = build(); model.fit(data.batch(d.global_batch(32)))
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence

#: ``off`` (or ``0``/``no``/``false``): one device and float32, whatever the machine has.
SWITCH = "LEPTON_DISTRIBUTE"


@dataclass(frozen=True)
class Distribution:
    """The strategy of this process and what it means for a run: replicas, devices, precision, chief."""

    strategy: object = None  # a tf.distribute.Strategy, or None for the default (one device)
    kind: str = "default"
    devices: tuple = ()
    replicas: int = 1
    mixed_precision: bool = False
    workers: tuple = ()
    worker_index: int = 0

    @property
    def is_chief(self) -> bool:
        """Worker 0 writes the run; the other workers only lend their devices to the same steps."""
        return self.worker_index == 0

    def global_batch(self, per_replica: int) -> int:
        """Samples per training step: each replica gets ``per_replica`` of them."""
        return int(per_replica) * self.replicas

    def scope(self):
        """The strategy's scope (models built inside are mirrored), or a no-op on one device."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def facts(self, per_replica_batch: Optional[int] = None) -> dict:
        """What the env card and the event log record about it."""
        facts = {"strategy": self.kind, "replicas": self.replicas, "devices": list(self.devices),
                 "mixed_precision": self.mixed_precision}
        if self.workers:
            facts.update(workers=list(self.workers), worker_index=self.worker_index)
        if per_replica_batch is not None:
            facts.update(per_replica_batch=int(per_replica_batch),
                         global_batch=self.global_batch(per_replica_batch))
        return facts


_process: Optional[Distribution] = None  # chosen once: a strategy cannot be swapped under live models
#: ``.facts`` of the run now inside distributed() in this thread (a strategy's scope is per thread too), for
#: the env card and the event log.
_active = threading.local()


def switched_off() -> bool:
    return os.environ.get(SWITCH, "").strip().lower() in ("off", "0", "no", "false")


def tf_config(workers: Sequence[str], index: int) -> str:
    """The ``TF_CONFIG`` JSON for worker ``index`` of ``workers`` (``host:port`` each, the same list everywhere)."""
    return json.dumps({"cluster": {"worker": list(workers)}, "task": {"type": "worker", "index": int(index)}})


def parse_workers(text: str, index: int) -> list[str]:
    """``"host:port,host:port"`` checked with ``index``; ``ValueError`` with a plain reason otherwise."""
    workers = [w.strip() for w in str(text).split(",") if w.strip()]
    if len(workers) < 2:
        raise ValueError(f"--workers needs two or more host:port addresses separated by commas, got {text!r}")
    for worker in workers:
        host, _, port = worker.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"--workers: {worker!r} is not host:port (for example 10.0.0.5:2222)")
    if len(set(workers)) != len(workers):
        raise ValueError(f"--workers names the same address twice: {text!r}")
    if not 0 <= int(index) < len(workers):
        raise ValueError(f"--worker-index must be 0 to {len(workers) - 1} for {len(workers)} workers, got {index}")
    return workers


def set_workers(workers: Sequence[str], index: int) -> None:
    """Make this process worker ``index`` of ``workers`` (writes ``TF_CONFIG``) and start its strategy.

    Call it first thing: ``MultiWorkerMirroredStrategy`` must exist before TensorFlow runs any operation.
    """
    if _process is not None and _process.workers != tuple(workers):
        raise RuntimeError("this process already chose its devices; start a new one to join workers")
    os.environ["TF_CONFIG"] = tf_config(workers, index)
    process_distribution()


def _cluster() -> tuple[list[str], int]:
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return [], 0
    try:
        config = json.loads(raw)
        workers = list(config.get("cluster", {}).get("worker", []))
        chief = list(config.get("cluster", {}).get("chief", []))
        task = config.get("task", {})
        index = int(task.get("index", 0))
        # A cluster with a separate "chief" entry: the chief is worker 0 of the whole; workers follow it.
        if chief:
            index = 0 if task.get("type") == "chief" else index + len(chief)
        return chief + workers, index
    except (ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"TF_CONFIG is not valid JSON of a tf.distribute cluster: {error}") from None


def process_distribution() -> Distribution:
    """This process's :class:`Distribution`, chosen on first call from ``TF_CONFIG`` and the visible devices."""
    global _process
    if _process is None:
        _process = _choose()
    return _process


def _choose() -> Distribution:
    if switched_off():
        return Distribution()
    workers, index = _cluster()
    import tensorflow as tf

    if len(workers) > 1:
        # Each worker mirrors over its own GPUs (or its CPU); the cluster adds them up. Created before anything
        # else touches the runtime (listing logical devices would start it): collectives are set up at start.
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        gpus = bool(tf.config.list_physical_devices("GPU"))
        _keras_multi_worker_fixes()
        return Distribution(strategy, "MultiWorkerMirroredStrategy", tuple(strategy.extended.worker_devices),
                            int(strategy.num_replicas_in_sync), gpus, tuple(workers), index)
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    devices = gpus if gpus else [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(devices) > 1:
        strategy = tf.distribute.MirroredStrategy(devices)
        return Distribution(strategy, "MirroredStrategy", tuple(devices), int(strategy.num_replicas_in_sync),
                            bool(gpus))
    return Distribution(devices=tuple(devices), mixed_precision=bool(gpus))


def _keras_multi_worker_fixes() -> None:
    """Work around Keras 3 ``fit`` failing under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585 and
    tensorflow/tensorflow#72388, open). Applied only when a process joins several workers; two spots:

    - Before its first step, Keras builds the model symbolically from one batch, which it first averages across
      the workers with an eager ``strategy.reduce``; the multi-worker strategy cannot do that eagerly ("Attempt
      to convert a value (PerReplica ...) to a Tensor"). The build only needs the batch's shapes and dtypes, so
      it is given this worker's first replica's part instead.
    - Each step's scalar logs (loss, metrics) are averaged across workers with ``reduce("MEAN", axis=0)``, which
      fails on a scalar ("Invalid reduction dimension 0 for input with 0 dimensions"): scalars are averaged with
      ``axis=None`` (across the replicas only), everything else goes to Keras unchanged.
    """
    import tensorflow as tf
    from keras import tree
    from keras.src.backend.tensorflow import trainer as keras_trainer
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

    original = TensorFlowTrainer._maybe_symbolic_build
    if getattr(original, "lepton_local_batch", False):
        return
    reduce_per_replica = keras_trainer.reduce_per_replica

    def reduce_scalars_across_workers(values, strategy, reduction):
        if reduction in ("auto", "mean") and keras_trainer._collective_all_reduce_multi_worker(strategy):
            def one(v):
                local = v.values[0] if isinstance(v, tf.distribute.DistributedValues) else v
                if getattr(local, "shape", None) is not None and local.shape.rank == 0:  # one local replica: a tensor
                    return strategy.reduce("MEAN", v, axis=None)
                return reduce_per_replica(v, strategy, reduction)
            return tree.map_structure(one, values)
        return reduce_per_replica(values, strategy, reduction)

    keras_trainer.reduce_per_replica = reduce_scalars_across_workers

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None and data_batch is None and self._distribute_strategy is not None:
            for _, _, it in iterator:
                strategy = self.distribute_strategy
                data_batch = tree.map_structure(
                    lambda v: strategy.experimental_local_results(v)[0]
                    if isinstance(v, tf.distribute.DistributedValues) else v, next(it))
                break
            iterator = None
        return original(self, iterator=iterator, data_batch=data_batch)

    maybe_symbolic_build.lepton_local_batch = True
    TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build


def active_facts() -> dict:
    """The facts of the run now inside :func:`distributed` (``{}`` outside one): env card, ``run_started``."""
    return dict(getattr(_active, "facts", None) or {})


@contextlib.contextmanager
def distributed(per_replica_batch: Optional[int] = None) -> Iterator[Distribution]:
    """Run the body under this process's strategy and precision policy; both are restored afterwards.

    On one device without a GPU it changes nothing.
    """
    d = process_distribution()
    previous_facts = getattr(_active, "facts", None)
    policy = None
    if d.mixed_precision:
        import keras

        policy = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_float16")
    _active.facts = d.facts(per_replica_batch)
    try:
        with d.scope():
            yield d
    finally:
        _active.facts = previous_facts
        if policy is not None:
            import keras

            keras.config.set_dtype_policy(policy)
