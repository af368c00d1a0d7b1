"""The Prefect task runner named in the settings (``task_runner``, ``max_workers``, ``dask_address``,
``ray_address``).

* ``threads`` (default): a thread pool in the flow's process; each report is still parsed in its own warm
  child process (``tasks.isolation``), so threads are enough on one machine.
* ``processes``: Prefect's process pool (each pool process talks to the same Prefect API).
* ``dask``: prefect-dask. With ``dask_address`` (``tcp://scheduler:8786``) the tasks go to that existing
  cluster; without, a local cluster of ``max_workers`` single-threaded worker processes is started for the
  run and stopped after it. The engine for a cluster (measured against Ray: ``docs/deploy.md``).
* ``ray``: prefect-ray, which is NOT a dependency of the project (Dask was chosen; the measurement is in
  ``docs/deploy.md``): ``pip install prefect-ray`` first. ``ray_address`` (``ray://head:10001`` or
  ``auto``) connects to an existing Ray cluster; without, a local Ray instance with ``max_workers`` CPUs.

Every runner reports its task runs to the one Prefect API of the flow run (``PREFECT_API_URL``, or the
flow's embedded server), so every task run is recorded in one database.
"""

from __future__ import annotations

from typing import Any

from nianbao.settings import Settings

RUNNERS = ("threads", "processes", "dask", "ray")


class RunnerUnavailableError(RuntimeError):
    """The task runner named in the settings needs a package that is not installed."""


def task_runner(settings: Settings) -> Any:
    """Given the settings, return a new (not yet entered) Prefect task runner for ``settings.task_runner``.
    Raises ``RunnerUnavailableError`` naming the package to install when its integration is missing, and
    ``ValueError`` for a runner name that is not one of ``RUNNERS``."""
    name = settings.task_runner
    if name == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=settings.max_workers)
    if name == "processes":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=settings.max_workers)
    if name == "dask":
        return _dask(settings)
    if name == "ray":
        return _ray(settings)
    raise ValueError(f"unknown task runner {name!r}; valid runners: {', '.join(RUNNERS)}")


def _dask(settings: Settings) -> Any:
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:  # a dependency of the project: only a broken install gets here
        raise RunnerUnavailableError(f"task_runner 'dask' needs prefect-dask ({exc}); run scripts/setup.sh") from exc
    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    # One thread per worker process: a task holds the GIL while it reads a report's result back, and the
    # parsing itself runs in the isolation child anyway.
    return DaskTaskRunner(cluster_kwargs={"n_workers": settings.max_workers, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None})


def _ray(settings: Settings) -> Any:
    try:
        from prefect_ray import RayTaskRunner
    except ImportError as exc:
        raise RunnerUnavailableError("task_runner 'ray' needs prefect-ray, which nianbao does not install (Dask "
                                     "is its cluster engine, docs/deploy.md): `pip install prefect-ray` into the "
                                     "environment, or use task_runner 'dask'") from exc
    if settings.ray_address:
        return RayTaskRunner(address=settings.ray_address)
    # A local instance sized like the other runners; no dashboard (no extra server, nothing to download).
    return RayTaskRunner(init_kwargs={"num_cpus": settings.max_workers, "include_dashboard": False,
                                      "log_to_driver": False})
