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

__all__ = ["map_fovs", "torch_threads"]


@contextmanager
def torch_threads(n_threads):
    """Run the block with ``torch.set_num_threads(n_threads)``, then restore the previous value."""
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


def map_fovs(function, arguments, n_jobs=None):
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

    Returns
    -------
    list
        The results, in the order of ``arguments``.
    """
    if effective_n_jobs(n_jobs) == 1:
        return [function(*args) for args in arguments]
    return Parallel(n_jobs=n_jobs)(delayed(_single_threaded)(function, args) for args in arguments)
