"""The Prefect task runner a batch runs its chunk tasks on, chosen by the ``task_runner`` setting."""

from __future__ import annotations

from typing import Any

from nianbao.settings import Settings


def task_runner(settings: Settings) -> Any:
    """``threads`` (default), ``processes``, or ``dask`` (a local cluster of ``max_workers`` single-threaded
    worker processes, or the scheduler at ``dask_address``)."""
    if settings.task_runner == "processes":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=settings.max_workers)
    if settings.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": settings.max_workers, "threads_per_worker": 1,
                                              "processes": True, "dashboard_address": None})
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=settings.max_workers)
