"""The Prefect tasks: each wraps one core call.

* ``process_chunk``: a chunk of reports, ingested and parsed one by one in isolation, rows staged as
  Parquet (``nianbao.runtime.chunk.run_chunk``). Never retried: parsing is deterministic, and a report
  that fails to parse fails the same way again (a local read's I/O error is retried inside, per report).
* ``publish``: the changed years assembled from the staged chunks and committed at once
  (``nianbao.publish.staged.publish_staged``); retried on an ``OSError`` only (a full disk, an object store
  that stays unreachable after its own retries), never on bad data.
* ``bi_outputs``: cross-year checks, the DuckDB catalog and the quality report; retried like ``publish``.

Retries back off exponentially with jitter (``RETRY_DELAYS``).
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from nianbao.publish.staged import Published
from nianbao.runtime.batch import BatchOutcome, publish_batch
from nianbao.runtime.chunk import Chunk, ReportRecord, run_chunk
from nianbao.settings import Settings

RETRIES = 3  # three attempts, 2 s then 4 s apart (± 50 %), for a task that touches the file system or the network
RETRY_DELAYS = exponential_backoff(backoff_factor=2)
RETRY_JITTER = 0.5


def is_os_error(state: Any) -> bool:
    """Retry condition: the task failed with an ``OSError`` (never bad data, never a parse failure)."""
    try:
        state.result()
    except OSError:
        return True
    except Exception:
        return False
    return False


def _retry_on_os_error(_task: Any, _run: Any, state: Any) -> bool:
    return is_os_error(state)


@task(name="process-chunk", cache_policy=NO_CACHE, persist_result=False, retries=0,
      task_run_name="chunk-{chunk.key}")
def process_chunk(chunk: Chunk, settings: Settings, year: int | None) -> list[ReportRecord]:
    """Ingest, parse and stage one chunk of reports; never raises for a bad input."""
    return run_chunk(chunk, settings, year, get_run_logger().warning)


@task(name="publish", cache_policy=NO_CACHE, persist_result=False, retries=RETRIES - 1,
      retry_delay_seconds=RETRY_DELAYS, retry_jitter_factor=RETRY_JITTER, retry_condition_fn=_retry_on_os_error)
def publish(batch: BatchOutcome, settings: Settings, batch_id: str, flow_run_id: str | None) -> Published:
    """Publish the batch's changed years from the staged chunks in one commit."""
    done = publish_batch(batch, settings, batch_id, flow_run_id)
    get_run_logger().info("published %d files for years %s (unchanged, not republished: %s) under %s",
                          len(done.files), batch.plan.years, done.unchanged_years, settings.out_dir)
    return done


@task(name="bi-outputs", cache_policy=NO_CACHE, persist_result=False, retries=RETRIES - 1,
      retry_delay_seconds=RETRY_DELAYS, retry_jitter_factor=RETRY_JITTER, retry_condition_fn=_retry_on_os_error)
def bi_outputs(out_dir: str, batch_id: str, flow_run_id: str | None, years: list[int] | None = None
               ) -> dict[str, Any]:
    """After a publish of ``years``: cross-year checks, the DuckDB catalog and the quality report."""
    from nianbao.bi import post_publish

    info: dict[str, Any] = post_publish(out_dir, batch_id=batch_id, flow_run_id=flow_run_id, years=years)
    return info
