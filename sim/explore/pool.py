"""Where an exploration's evaluations run: on Dask distributed, or in this process.

:class:`DaskPool` runs them on a Dask cluster: by default an embedded
``LocalCluster`` of worker processes (one per core, one thread each), or an
existing cluster reached by its scheduler's address (``dask scheduler`` and
``dask worker`` started by hand or by dask-jobqueue on a batch system).
:class:`InlinePool` runs them one after the other in this process.

Both offer ``submit(function, *args)`` (a future: ``result()`` returns the value or
raises what the function raised) and ``completed()``, an iterator over futures in
the order they finish, to which futures may be ``add``-ed while iterating.
"""
import collections
import logging
import os


class PoolError(RuntimeError):
    """The cluster could not be started or reached; the message says which and why."""


class InlineFuture:
    """An evaluation run in this process when its result is first asked for."""

    def __init__(self, function, args):
        self._call = (function, args)
        self._outcome = None

    def result(self):
        if self._outcome is None:
            function, args = self._call
            try:
                self._outcome = (True, function(*args))
            except Exception as error:       # reported by the explorer, as a worker's
                self._outcome = (False, error)
        ok, value = self._outcome
        if not ok:
            raise value
        return value


class _Queue:
    def __init__(self):
        self._items = collections.deque()

    def add(self, future):
        self._items.append(future)

    def __iter__(self):
        while self._items:
            yield self._items.popleft()


class InlinePool:
    """Every evaluation in this process, in the order submitted."""
    description = "in this process"

    def submit(self, function, *args):
        return InlineFuture(function, args)

    def completed(self):
        return _Queue()

    def close(self):
        pass


class DaskPool:
    """Evaluations on Dask distributed: ``scheduler`` an address (tcp://HOST:PORT) of a
    running cluster, else an embedded LocalCluster of ``workers`` processes (default:
    one per core)."""

    def __init__(self, scheduler=None, workers=None, timeout=10):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise PoolError("Dask distributed is not installed: pip install "
                            "'dask[distributed]' (make demo installs it)") from None
        self.cluster = None
        try:
            if scheduler is None:
                workers = workers or os.cpu_count() or 1
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                            processes=True, dashboard_address=None,
                                            silence_logs=logging.ERROR)
                self.client = Client(self.cluster, timeout=timeout)
                self.description = f"a local Dask cluster of {workers} worker process(es)"
            else:
                self.client = Client(scheduler, timeout=timeout)
                self.description = f"the Dask cluster at {scheduler}"
        except (OSError, TimeoutError) as error:
            self.close()
            raise PoolError(f"cannot reach the Dask scheduler {scheduler}: {error}") from None

    def submit(self, function, *args):
        return self.client.submit(function, *args, pure=False)

    def completed(self):
        from distributed import as_completed
        return as_completed()

    def close(self):
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self.cluster is not None:
            self.cluster.close()


class LazyPool:
    """A pool started when the first evaluation is submitted (a run that finds
    everything in the cache starts no cluster); ``on_start`` is called with its
    description then."""

    def __init__(self, start, on_start=None):
        self._start, self._on_start, self._pool = start, on_start, None

    @property
    def pool(self):
        if self._pool is None:
            self._pool = self._start()
            if self._on_start:
                self._on_start(self._pool.description)
        return self._pool

    @property
    def description(self):
        return self._pool.description if self._pool else "no worker: all from the cache"

    def submit(self, function, *args):
        return self.pool.submit(function, *args)

    def completed(self):
        return _LazyQueue(self)

    def close(self):
        if self._pool is not None:
            self._pool.close()


class _LazyQueue:
    def __init__(self, lazy):
        self._lazy, self._queue = lazy, None

    def add(self, future):
        if self._queue is None:
            self._queue = self._lazy.pool.completed()
        self._queue.add(future)

    def __iter__(self):
        return iter(self._queue if self._queue is not None else ())


def make_pool(scheduler=None, workers=None, timeout=10, on_start=None):
    """The pool of ``--scheduler``/``--workers``: 0 workers runs in this process;
    ``timeout``: seconds to reach a scheduler. A Dask pool starts (and ``on_start`` is
    called with where it runs) when the first evaluation needs it."""
    if workers == 0:
        if scheduler is not None:
            raise PoolError("--workers 0 runs in this process: leave out --scheduler")
        if on_start:
            on_start(InlinePool.description)
        return InlinePool()
    if scheduler is not None and workers is not None:
        raise PoolError("--workers sizes the local cluster: a cluster at --scheduler has "
                        "its own workers")
    return LazyPool(lambda: DaskPool(scheduler, workers, timeout), on_start)
