"""FOVs in parallel: joblib n_jobs, torch threads in workers, and the Dask backend."""

import joblib
import numpy as np
import pytest
import torch

from sklearn_miro.parallel import map_fovs, torch_threads


def _square_sum(a, b):
    return float(np.sum(a**2) + b)


def _threads():
    return torch.get_num_threads()


@pytest.mark.parametrize("n_fovs", [7, 53])  # one FOV per task; several per task
def test_map_fovs_in_parallel_gives_the_sequential_results_in_order(n_fovs):
    args = [(np.arange(k), k) for k in range(n_fovs)]
    assert map_fovs(_square_sum, args, n_jobs=2) == map_fovs(_square_sum, args, n_jobs=None)


def test_workers_run_torch_on_one_thread():
    assert map_fovs(_threads, [()] * 2, n_jobs=2) == [1, 1]


def test_sequential_calls_keep_the_callers_torch_threads():
    with torch_threads(2):
        assert map_fovs(_threads, [()], n_jobs=1) == [2]


def test_torch_threads_restores_the_previous_value():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def _threads_after(delay):
    import time

    time.sleep(delay)
    return torch.get_num_threads()


def test_threading_backend_tasks_each_run_torch_on_one_thread():
    # Tasks end at different times: one ending must not give the others (or
    # the caller) back the caller's setting early, nor leave theirs behind.
    with torch_threads(3):
        delays = [(0.002 * (k % 4),) for k in range(24)]
        with joblib.parallel_config(backend="threading"):
            inside = map_fovs(_threads_after, delays, n_jobs=4)
        assert inside == [1] * len(delays)
        assert torch.get_num_threads() == 3


def test_dask_worker_config_names_a_setting_dask_has():
    # If Dask renames the nanny's environment setting, the recommended
    # configuration would silently do nothing.
    dask = pytest.importorskip("dask", reason="the [dask] extra is not installed")
    pytest.importorskip("distributed", reason="the [dask] extra is not installed")
    from sklearn_miro.parallel import DASK_WORKER_CONFIG

    assert "MALLOC_TRIM_THRESHOLD_" in dask.config.get("distributed.nanny.pre-spawn-environ")
    assert dask.config.get("distributed.worker.profile.enabled") is True
    with dask.config.set(DASK_WORKER_CONFIG):
        assert dask.config.get("distributed.nanny.pre-spawn-environ")["MALLOC_TRIM_THRESHOLD_"] is None
        assert dask.config.get("distributed.worker.profile.enabled") is False


def test_dask_backend_through_joblib():
    distributed = pytest.importorskip("distributed", reason="the [dask] extra is not installed")
    args = [(np.arange(k), k) for k in range(5)]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        with joblib.parallel_config(backend="dask"):
            result = map_fovs(_square_sum, args)
    assert result == map_fovs(_square_sum, args, n_jobs=1)


def _thread_id(_):
    import threading

    return threading.get_ident()


def _inner_thread_ids(n):
    # A task that asks for parallel work of its own.
    return _thread_id(None), map_fovs(_thread_id, [(k,) for k in range(n)], n_jobs=2)


def test_a_task_runs_nested_calls_in_its_own_thread():
    # The FOVs are already spread over the workers: nested map_fovs calls run
    # in the task's own thread instead of becoming more tasks (under Dask they
    # went back to the cluster: 4 tasks per FOV, twice the wall time).
    with joblib.parallel_config(backend="threading"):
        results = map_fovs(_inner_thread_ids, [(4,), (4,)], n_jobs=2)
    for outer, inner in results:
        assert inner == [outer] * 4
