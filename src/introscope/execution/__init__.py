"""Where a run's batches are computed: in this process (:mod:`.local`) or on Ray actors
(:mod:`.ray_cluster`).

The runner (:mod:`introscope.runner`) plans the run and is the only writer of its store; an
executor only loads the model where the work happens and turns batches of trials into
results. Both executors serve the same :class:`~introscope.execution.base.Session` API, and
both run every batch through the same :class:`~introscope.execution.worker.Worker`, so the
trial ids, seeds, batch composition and the numbers themselves do not depend on the executor.
"""
