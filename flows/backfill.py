"""Backfill: one yearly batch per year of a range.

* Deployed (``deployment`` set, the default in ``prefect.yaml``): starts one run of the
  ``nianbao-year/annual-batch`` deployment per year with ``run_deployment`` (linked as child runs),
  each with the idempotency key ``backfill-<this run id>-<year>`` — a retry of this backfill run
  never starts a year twice, a new trigger starts fresh runs — then waits for all of them. The
  deployment's ``concurrency_limit`` (``prefect.yaml``) caps how many years run at once; the
  others wait in ``AwaitingConcurrencySlot``.
* Local (``deployment=None``, ``nianbao backfill``): the years run one after another as subflows
  in this process.

Reports whose bytes, year and parser version did not change are not parsed again (result cache),
so rerunning a backfill after late reports arrived only parses the new ones.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.annual import year_batch
from flows.deployment import FLOW_TIMEOUT_SECONDS, require_source

DEPLOYMENT = "nianbao-year/annual-batch"


def _years(from_year: int, to_year: int) -> list[int]:
    if from_year > to_year:
        raise ValueError(f"from_year {from_year} is after to_year {to_year}")
    if to_year - from_year > 50:
        raise ValueError("a backfill spans at most 51 years")
    return list(range(from_year, to_year + 1))


def check_year_folders(sources: str | list[str] | None, from_year: int, to_year: int) -> None:
    """A backfill reads ``<inbox>/<year>/`` for every year: raise ``ValueError`` naming every missing year
    folder of every inbox folder given (manifests and URLs carry their own years and are not checked)."""
    inboxes = [Path(s) for s in ([sources] if isinstance(sources, str) else sources or []) if Path(s).is_dir()]
    missing = [str(inbox / str(y)) for inbox in inboxes for y in _years(from_year, to_year)
               if not (inbox / str(y)).is_dir()]
    if missing:
        raise ValueError(f"backfill {from_year}-{to_year}: no year folder {', '.join(missing)}; a backfill reads "
                         "<inbox>/<year>/ for each year — create the folder(s) or narrow --from/--to")


def _child_parameters(year: int, source: str | list[str] | None, out: str | None,
                      settings: dict[str, Any] | None) -> dict[str, Any]:
    params: dict[str, Any] = {"year": year, "source": source}
    if out is not None:
        params["out"] = out
    if settings:
        params["settings"] = settings
    return params


@flow(name="nianbao-backfill", flow_run_name="backfill-{from_year}-{to_year}", timeout_seconds=FLOW_TIMEOUT_SECONDS)
def backfill(from_year: int, to_year: int, source: str | list[str], out: str | None = None,
             settings: dict[str, Any] | None = None, deployment: str | None = DEPLOYMENT,
             poll_seconds: float = 5.0, fail_on_error: bool = True,
             progress: str = "off") -> dict[str, Any]:
    """Run the yearly batch for every year from ``from_year`` to ``to_year`` (inclusive).

    ``source`` (required): the inbox folder(s) or manifest(s); ``deployment``: the yearly deployment to start
    child runs of (None: run the years here as subflows). Fails, after every year has finished, if any year
    failed (``fail_on_error=False``: returns the report with each year's state; the ``nianbao`` command maps
    it to an exit code). A cancel (Ctrl-C / SIGTERM) stops the backfill at once: the remaining years are not
    started.
    """
    from nianbao.runtime import cancel

    source = require_source(source, "backfill")
    logger = get_run_logger()
    years = _years(from_year, to_year)
    check_year_folders(source, from_year, to_year)
    report: dict[str, Any] = {"years": {}}
    failed: list[int] = []
    if deployment is None:
        for y in years:
            try:
                summary = year_batch(**_child_parameters(y, source, out, settings), progress=progress)
                report["years"][str(y)] = {"state": "COMPLETED", "summary": summary}
            except Exception as exc:
                if cancel.requested():
                    raise
                logger.error("year %d failed: %s", y, exc)
                report["years"][str(y)] = {"state": "FAILED", "error": f"{type(exc).__name__}: {exc}",
                                           "error_type": type(exc).__name__}
                failed.append(y)
    else:
        from prefect.client.orchestration import get_client
        from prefect.deployments import run_deployment

        parent = str(flow_run.id) if flow_run.id else f"local-{int(time.time())}"
        runs: dict[int, Any] = {}
        for y in years:
            runs[y] = run_deployment(deployment, parameters=_child_parameters(y, source, out, settings), timeout=0,
                                     flow_run_name=f"backfill-{y}", tags=["backfill", f"year-{y}"],
                                     idempotency_key=f"backfill-{parent}-{y}")
            logger.info("year %d: flow run %s (%s)", y, runs[y].name, runs[y].id)
        pending = dict(runs)
        with get_client(sync_client=True) as client:
            while pending:
                time.sleep(poll_seconds)
                for y, fr in list(pending.items()):
                    state = client.read_flow_run(fr.id).state
                    if state is not None and state.is_final():
                        del pending[y]
                        report["years"][str(y)] = {"state": state.type.value, "flow_run_id": str(fr.id),
                                                   "flow_run_name": fr.name}
                        (logger.info if state.is_completed() else logger.error)(
                            "year %d: %s (%s)", y, state.type.value, state.message or "")
                        if not state.is_completed():
                            failed.append(y)
    if failed and fail_on_error:
        raise RuntimeError(f"backfill {from_year}-{to_year}: years {sorted(failed)} failed; the others completed")
    return report
