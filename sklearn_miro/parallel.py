"""Fields of view in parallel: joblib, and through it a Dask cluster.

FOVs are independent, so a list of them is processed with
:class:`joblib.Parallel`. ``n_jobs`` follows scikit-learn's convention: None
means 1 unless inside a :func:`joblib.parallel_config` context, -1 means all
cores. Any joblib backend works, among them Dask's:

.. code-block:: python

    from distributed import Client
    import joblib

    client = Client("scheduler-address:8786")
    with joblib.parallel_config(backend="dask"):
        labels = clusterer.set_params(n_jobs=-1).predict(X, groups=fov)

On a Dask cluster of worker processes, start the workers with
:data:`DASK_WORKER_CONFIG` (``dask.config.set(DASK_WORKER_CONFIG)`` before the
cluster starts, or the same key in the workers' Dask configuration file).
Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` in every worker, which
fixes glibc's thresholds: every array above 128 KiB is then mapped fresh from
the system and paged in again, and a FOV's task took 1.4 times the CPU time it
takes in a plain process (measured on 120 real FOVs: 37.8 CPU-s in two workers
against 25.8 in one process; with the setting, 25.4). It also turns off the
profiler with which every worker samples its task thread's stack every 10 ms
(for the dashboard's profile page): 120 FOVs on 2 workers then took a median
4.68 s against 4.90 s wall, alternating the two settings over 3 rounds, 6
warm calls each (one process: 8.4 s).

Inside a parallel task torch runs on one thread: ``n_jobs`` tasks then use
``n_jobs`` cores instead of each starting a thread per core. A task never
starts parallel work of its own (joblib's sequential backend inside it): the
FOVs are already spread over the workers, and under joblib's Dask backend every
nested joblib call (ours, or scikit-learn's neighbour searches inside DBSCAN)
would go back to the cluster as tasks of their own (measured: 4 tasks per FOV
and 1.8 times the wall time of one worker, before this rule).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from joblib import Parallel, delayed, effective_n_jobs, parallel_config

__all__ = ["DASK_WORKER_CONFIG", "map_fovs", "progress_bar", "runs_in_this_process", "torch_threads"]

#: Dask configuration for worker processes that run MIRO: keeps glibc's
#: adaptive malloc thresholds (Dask's default trims at 64 KiB) and turns off
#: the workers' statistical profiler (see the module docstring for both
#: measurements). Apply it where the workers start.
DASK_WORKER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
}

#: Tasks per worker that :func:`map_fovs` aims at when it batches FOVs.
TASKS_PER_WORKER = 8


@contextmanager
def torch_threads(n_threads):
    """Run the block with ``torch.set_num_threads(n_threads)``, then restore the previous value.

    With the OpenMP builds of torch (the PyPI wheels) the setting belongs to
    the calling thread, so tasks of joblib's threading backend each set and
    restore their own (tested).
    """
    previous = torch.get_num_threads()
    if n_threads == previous:
        yield
        return
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _single_threaded(function, args):
    with torch_threads(1), parallel_config(backend="sequential"):
        return function(*args)


def runs_in_this_process(n_jobs):
    """Whether :func:`map_fovs` with this ``n_jobs`` runs its calls here, in order (one job)."""
    return effective_n_jobs(n_jobs) == 1


def progress_bar(total, desc, verbose):
    """A tqdm progress bar, shown when ``verbose`` is positive (the package's one kind of bar).

    Here, beside :func:`map_fovs` which advances it, so that every module that
    maps over FOVs (the estimators, the model, the metrics) can use it.
    """
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not verbose, leave=verbose >= 2 or None,
                dynamic_ncols=True)


def map_fovs(function, arguments, n_jobs=None, progress=None):
    """``[function(*args) for args in arguments]``, in parallel when ``n_jobs`` asks for it.

    Parameters
    ----------
    function : callable
        Must be picklable (a module-level function) for process-based backends.
    arguments : iterable of tuple
    n_jobs : int or None, default=None
        scikit-learn's convention. With one job the calls run in this process,
        in order, with the caller's torch settings; inside a task of another
        ``map_fovs`` call they run in that task, in order.
    progress : tqdm-like or None, default=None
        Advanced by one per finished call in this process, by all of them at
        once when the calls run in parallel.

    Returns
    -------
    list
        The results, in the order of ``arguments``.
    """
    arguments = list(arguments)
    if runs_in_this_process(n_jobs):
        # One job: everything in this process, nested joblib calls included
        # (under a Dask context scikit-learn's would otherwise become tasks).
        with parallel_config(backend="sequential"):
            results = []
            for args in arguments:
                results.append(function(*args))
                if progress is not None:
                    progress.update(1)
            return results
    # Several FOVs per task, about TASKS_PER_WORKER tasks per worker: the
    # backend's cost per task (under Dask about 25 ms of scheduler and
    # client time on the calling machine) is then paid per batch, while the
    # tasks stay small enough to balance FOVs of unequal size.
    batch_size = max(1, len(arguments) // (TASKS_PER_WORKER * effective_n_jobs(n_jobs)))
    results = Parallel(n_jobs=n_jobs, batch_size=batch_size)(
        delayed(_single_threaded)(function, args) for args in arguments
    )
    if progress is not None:
        progress.update(len(results))
    return results
