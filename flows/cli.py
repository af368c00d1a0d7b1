"""The ``nianbao`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def _quiet_prefect_defaults() -> None:
    # Offline machine: no telemetry, and Prefect's embedded local server unless one is configured.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # The embedded server can take longer than Prefect's 20 s default to start on a busy 2-core machine.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def _print_summary(summary: dict[str, Any]) -> None:
    print()
    print(f"nianbao: {summary['reports']} reports processed in {summary['seconds']} s")
    print("  status:  " + ", ".join(f"{k} {v}" for k, v in sorted(summary["status"].items())))
    print("  formats: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["formats"].items())))
    if summary["errors"]:
        print("  errors:  " + ", ".join(f"{k} {v}" for k, v in sorted(summary["errors"].items())))
    issues = summary["issues"]
    print(f"  cells published: {summary['cells']}; validation issues: {sum(issues.values())}"
          + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(issues.items(), key=lambda kv: -kv[1])[:6]) + ")"
             if issues else ""))
    print(f"  years: {summary['years']}")
    _print_accounting(summary)
    print(f"Output written to: {summary['out_dir']}")
    print("  datasets: reports, sections, proactive_disclosure, applications, reviews_litigation, "
          "validation_issues (Parquet, hive-partitioned by report_year)")
    if summary.get("crossyear_issues") is not None:
        print(f"  cross-year issues: {summary['crossyear_issues']} (crossyear_issues/)")
    if summary.get("catalog"):
        print(f"  DuckDB catalog: {summary['catalog']}")
    if summary.get("quality_report"):
        print(f"  quality report: {summary['quality_report']}")
    if summary.get("manifest"):
        print(f"  manifest: {summary['manifest']}")
    if summary.get("bi_error"):
        print(f"  warning: the catalog / quality report were not rebuilt ({summary['bi_error']}); the data is "
              "published; rerun to rebuild them")
    _print_next(summary)


def _print_accounting(summary: dict[str, Any], shown: int = 10) -> None:
    """Skipped files (each with its reason, and a count per reason), held-back and failed reports."""
    skipped = summary.get("skipped") or []
    if skipped:
        from collections import Counter

        reasons = Counter(s["reason"] for s in skipped)
        print(f"  skipped: {len(skipped)} (" + ", ".join(f"{k} {v}" for k, v in reasons.most_common()) + ")")
        for s in skipped[:shown]:
            print(f"    {s['uri']}: {s['reason']}" + (f" — {s['message']}" if s.get("message") else ""))
        if len(skipped) > shown:
            print(f"    ... {len(skipped) - shown} more in the manifest and the reports dataset (status = skipped)")
    not_read = summary.get("not_read") or []
    if not_read:
        print(f"  not read: {len(not_read)} other years' folders ({', '.join(n.rsplit('/', 1)[-1] for n in not_read)}"
              "): they belong to those years' batches")
    held = summary.get("held_back") or []
    if held:
        print(f"  held back: {len(held)} (another or an unknown year; see error_message in the reports dataset)")
    failed = summary.get("failed") or []
    if failed:
        print(f"  failed: {len(failed)} (" + ", ".join(f.rsplit("/", 1)[-1] for f in failed[:5])
              + (", ..." if len(failed) > 5 else "") + ")")


def _print_next(summary: dict[str, Any]) -> None:
    """Where to look next."""
    steps = []
    if summary.get("failed") or summary.get("held_back") or summary.get("skipped"):
        steps.append("why inputs were not published: the manifest (inputs[].status, error) or "
                     "`select source_uri, status, error, error_message from reports where status <> 'ok'`")
    if summary.get("quality_report"):
        steps.append(f"problems per report: open {summary['quality_report']}")
    if summary.get("catalog"):
        steps.append(f"query the data: duckdb {summary['catalog']} (docs/bi.md)")
    if steps:
        print("Next:")
        for s in steps:
            print(f"  - {s}")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=None, help="output root: a folder, or s3://bucket/prefix (default: out/)")
    p.add_argument("--config", default=None, help="settings TOML file")
    p.add_argument("--runner", choices=["threads", "processes", "dask", "ray"], default=None,
                   help="task runner (ray: prefect-ray installed by hand; docs/deploy.md)")
    p.add_argument("--workers", type=int, default=None, help="parallel workers")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--allow-shrink", action="store_true", default=None,
                   help="let a batch replace a year with fewer readable reports than it holds")


def _print_backfill(report: dict[str, Any]) -> None:
    print()
    for year, info in sorted(report["years"].items()):
        s = info.get("summary") or {}
        extra = (f": {s.get('reports', 0)} reports, {s.get('cells', 0)} cells, cache hits "
                 f"{(s.get('cache') or {}).get('hits', 0)}" if s else f" {info.get('error', '')}")
        print(f"  {year}: {info['state'].lower()}{extra}")


def _bench(argv: list[str]) -> int:
    """``nianbao bench ...``: the benchmark of tools/bench.py (a development tool kept beside the package)."""
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "tools" / "bench.py"
    if not script.exists():
        print(f"nianbao: {script} not found: `nianbao bench` runs from a source checkout", file=sys.stderr)
        return 2
    bench = runpy.run_path(str(script), run_name="nianbao_bench")
    return int(bench["main"](argv))


def _catalog(out: str, catalog: str | None) -> int:
    """``nianbao catalog OUT``: rewrite the DuckDB catalog over what is published (no Prefect involved)."""
    from pathlib import Path

    from nianbao.bi.catalog import write_catalog
    from nianbao.location import is_remote

    if not is_remote(out) and not Path(out, "reports").is_dir():
        print(f"nianbao: {out} is not an output folder (no reports/ dataset in it)", file=sys.stderr)
        return 2
    print(f"DuckDB catalog: {write_catalog(out, catalog=catalog)}")
    return 0


def _rollback(out_dir: str, year: int) -> int:
    """``nianbao rollback --year Y``: one journal commit back to the year's previous version, then the
    catalog, cross-year checks and quality report rebuilt over what is now published."""
    from pathlib import Path

    from nianbao.errors import PublishConflictError, PublishRefusedError
    from nianbao.exitcodes import ExitCode
    from nianbao.location import is_remote
    from nianbao.publish.parquet import rollback

    if is_remote(out_dir):
        print(f"nianbao: rollback works on a local output folder; {out_dir} is an object store (see "
              "docs/reliability.md)", file=sys.stderr)
        return int(ExitCode.USAGE)
    if not Path(out_dir).is_dir():
        print(f"nianbao: output folder {out_dir} does not exist", file=sys.stderr)
        return int(ExitCode.USAGE)
    try:
        done = rollback(Path(out_dir), year)
    except PublishRefusedError as exc:
        print(f"nianbao: {exc}", file=sys.stderr)
        return int(ExitCode.NOTHING_PUBLISHED)
    except PublishConflictError as exc:
        print(f"nianbao: {exc}", file=sys.stderr)
        return int(ExitCode.PUBLISH_CONFLICT)
    from nianbao.bi import post_publish

    post_publish(out_dir)
    print(f"nianbao: report_year={year} rolled back from version {done['from']} to version {done['to']} "
          f"(commit {done['seq']}) in {out_dir}")
    return int(ExitCode.OK)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nianbao", description="Government-information-disclosure annual "
                                     "reports to validated Parquet.", epilog=EXIT_CODES_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="process one batch (default: the bundled sample reports)", epilog=EXIT_CODES_HELP,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("sources", nargs="*", help="files, folders (<inbox>/<year>/...) or manifests (.csv/.parquet)")
    run.add_argument("--year", type=int, default=None,
                     help="the year reported on (2008..next year); reports of other years are held back")
    _common(run)
    sub.add_parser("bench", help="benchmark accuracy and throughput (tools/bench.py; `nianbao bench --help`)")
    bf = sub.add_parser("backfill", help="run the yearly batch for every year of a range, one after another",
                        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    bf.add_argument("sources", nargs="*", help="inbox folders (<inbox>/<year>/...) or manifests (required)")
    bf.add_argument("--from", dest="from_year", type=int, required=True, help="first year reported on")
    bf.add_argument("--to", dest="to_year", type=int, required=True, help="last year reported on (inclusive)")
    _common(bf)
    cat = sub.add_parser("catalog", help="(re)build the DuckDB catalog (views) of an output folder or s3:// location")
    cat.add_argument("out", help="output root: a folder (catalog written to <out>/catalog.duckdb) or s3://bucket/prefix")
    cat.add_argument("--catalog", default=None, help="object-store output: local catalog file (default ./catalog.duckdb)")
    rb = sub.add_parser("rollback", help="make the previous published version of a year current again")
    rb.add_argument("--year", type=int, required=True, help="the year (report_year) to roll back")
    rb.add_argument("--out", default=None, help="output root (a local folder; default: out/)")
    rb.add_argument("--config", default=None, help="settings TOML file")
    return parser


EXIT_CODES_HELP = """exit codes (docs/reliability.md):
  0    every input read and published
  1    internal error (a bug); published data unchanged
  2    usage error (arguments, paths), found before any work
  3    published, but some inputs failed, were skipped or held back (see the summary)
  4    nothing published (nothing readable, or the publish was refused); previous data unchanged
  5    another run holds the year (or the publish failed on I/O); previous data unchanged
  130  interrupted (Ctrl-C / SIGTERM); nothing half-done published"""


def _fail(code: int, message: str) -> int:
    print(f"nianbao: {message}", file=sys.stderr)
    return int(code)


def _preflight(args: argparse.Namespace) -> Any:
    """Validate arguments, settings and paths before Prefect is imported; return the settings."""
    from flows import preflight
    from nianbao.settings import load_settings

    preflight.check_workers(args.workers)
    if args.command == "run":
        preflight.check_year(args.year)
    else:
        preflight.check_backfill_range(args.from_year, args.to_year)
        if not args.sources:
            raise preflight.UsageError("backfill needs its inbox folder(s) or manifest(s): nianbao backfill INBOX "
                                       "--from Y1 --to Y2")
    cfg = load_settings(args.config, task_runner=args.runner, max_workers=args.workers, out_dir=args.out,
                        allow_shrink=args.allow_shrink)
    if cfg.task_runner == "ray":
        import importlib.util

        if importlib.util.find_spec("prefect_ray") is None:
            raise preflight.UsageError("task runner 'ray' needs prefect-ray, which nianbao does not install (its "
                                       "cluster engine is Dask, docs/deploy.md): `pip install prefect-ray`, or use "
                                       "--runner dask")
    preflight.check_sources(args.sources)
    preflight.check_out(cfg.out_dir, args.sources or [_samples()])
    for warning in preflight.check_readable(args.sources, args.year if args.command == "run" else None):
        print(f"nianbao: warning: {warning}", file=sys.stderr)
    return cfg


def _samples() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parents[1] / "data" / "samples")


def _exit_code(summary: dict[str, Any]) -> int:
    from nianbao.exitcodes import ExitCode

    bad = summary.get("failed") or summary.get("skipped") or summary.get("held_back")
    if bad is None:  # a summary without the accounting lists: judge by the status counts
        bad = any(k not in ("ok", "partial") for k in summary.get("status", {}))
    return int(ExitCode.PARTIAL if bad else ExitCode.OK)


def _backfill_exit_code(report: dict[str, Any]) -> int:
    """0 when every year completed with every input read; 3 when some year failed or held inputs back
    while another published; 5 / 4 when no year published (a conflict / anything else)."""
    from nianbao.exitcodes import ExitCode

    years = list(report["years"].values())
    done = [y for y in years if str(y.get("state", "")).upper() == "COMPLETED"]
    if not done:
        if years and all(y.get("error_type") == "PublishConflictError" for y in years):
            return int(ExitCode.PUBLISH_CONFLICT)
        return int(ExitCode.NOTHING_PUBLISHED)
    if len(done) < len(years):
        return int(ExitCode.PARTIAL)
    return max(_exit_code(y.get("summary") or {}) for y in done)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        return _bench(argv[1:])
    args = _parser().parse_args(argv)
    from flows.preflight import NothingReadableError, UsageError
    from nianbao.errors import SettingsError
    from nianbao.exitcodes import ExitCode

    if args.command == "catalog":
        return _catalog(args.out, args.catalog)
    if args.command == "rollback":
        from flows import preflight
        from nianbao.settings import load_settings

        try:
            preflight.check_year(args.year)
            cfg = load_settings(args.config, out_dir=args.out)
        except (UsageError, SettingsError) as exc:
            return _fail(ExitCode.USAGE, str(exc))
        return _rollback(cfg.out_dir, args.year)

    try:
        cfg = _preflight(args)
    except (UsageError, SettingsError) as exc:
        return _fail(ExitCode.USAGE, str(exc))
    except NothingReadableError as exc:
        return _fail(ExitCode.NOTHING_PUBLISHED, str(exc))
    except OSError as exc:  # e.g. an unreadable --config file
        return _fail(ExitCode.USAGE, f"{exc.strerror or exc}: {exc.filename or ''}")
    _quiet_prefect_defaults()
    from flows.process import install_signal_handlers, restore_signal_handlers, start_embedded_server, threading_is_main
    from nianbao.runtime import cancel

    cancel.reset()
    args.server = start_embedded_server() if args.command == "run" else None
    in_main_thread = threading_is_main()
    if in_main_thread:
        install_signal_handlers()
    try:
        return _dispatch(args, cfg)
    finally:
        if in_main_thread:
            restore_signal_handlers()


# Imported while the embedded server boots: the flow's first lineage event needs them (~0.5 s).
LINEAGE_MODULES = ("openlineage.client.event_v2", "openlineage.client.generated", "nianbao.publish.lineage")

EXPECTED_ERRORS = ("NothingToPublishError", "PublishRefusedError", "PublishConflictError", "Cancelled",
                   "KeyboardInterrupt")


def _quiet_expected_errors() -> None:
    """The command prints one line for an outcome it expects (nothing to publish, a conflict, a cancel):
    keep Prefect from printing a traceback for it on the console (a logger filter, which survives
    Prefect re-configuring its handlers; the flow run's state still records the error)."""
    import logging

    class _Expected(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            exc = record.exc_info[1] if record.exc_info else None
            if exc is not None and type(exc).__name__ in EXPECTED_ERRORS:
                return False
            if getattr(record, "task_name", None) == "bi-outputs" and record.levelno >= logging.ERROR:
                return False  # the flow retries it, then prints one warning (the data is already published)
            message = record.getMessage()
            if "aborted by a termination signal" in message:
                return False  # the command says it in one line
            return not (message.startswith(("Finished in state", "Encountered exception"))
                        and any(name in message for name in EXPECTED_ERRORS))

    for name in ("prefect.flow_runs", "prefect.task_runs"):
        logging.getLogger(name).addFilter(_Expected())


def _dispatch(args: argparse.Namespace, cfg: Any) -> int:
    """Run the command; map every outcome to its exit code with one line on stderr."""
    from flows.progress import choose_mode
    from flows.runners import task_runner
    from nianbao.errors import NothingToPublishError, PublishConflictError, PublishRefusedError
    from nianbao.exitcodes import ExitCode
    from nianbao.runtime import cancel

    overrides = {k: v for k, v in cfg.to_dict().items() if k != "out_dir"}
    mode = choose_mode(cfg.progress)
    _quiet_expected_errors()
    try:
        if args.command == "run":
            import flows.annual as annual

            flow_fn = annual.annual_batch.with_options(task_runner=task_runner(cfg))
            with args.server.ready(preload=LINEAGE_MODULES):  # started before the imports
                summary = flow_fn(sources=args.sources or None, year=args.year, out=cfg.out_dir, settings=overrides,
                                  progress=mode)
            if args.json:
                print(json.dumps(summary, ensure_ascii=False, indent=1))
            else:
                _print_summary(summary)
            if cancel.requested():
                return _fail(ExitCode.INTERRUPTED, "interrupted after the publish had completed: the data above "
                             "is complete")
            return _exit_code(summary)
        from flows.backfill import backfill, check_year_folders

        try:
            check_year_folders(args.sources, args.from_year, args.to_year)
        except ValueError as exc:
            return _fail(ExitCode.USAGE, str(exc))
        report = backfill(from_year=args.from_year, to_year=args.to_year, source=args.sources or None,
                          out=cfg.out_dir, settings=overrides, deployment=None, fail_on_error=False,
                          progress=mode)
        if args.json:
            print(json.dumps(report, ensure_ascii=False, indent=1, default=str))
        else:
            _print_backfill(report)
        if cancel.requested():
            return int(ExitCode.INTERRUPTED)
        return _backfill_exit_code(report)
    except (KeyboardInterrupt, cancel.Cancelled):
        return _fail(ExitCode.INTERRUPTED, "interrupted (Ctrl-C / SIGTERM); nothing was published, the previous "
                     "data is unchanged")
    except NothingToPublishError as exc:
        return _fail(ExitCode.NOTHING_PUBLISHED, f"nothing published: {exc}")
    except PublishRefusedError as exc:
        return _fail(ExitCode.NOTHING_PUBLISHED, f"publish refused: {exc}")
    except PublishConflictError as exc:
        return _fail(ExitCode.PUBLISH_CONFLICT, str(exc))
    except Exception as exc:
        if cancel.requested():
            return _fail(ExitCode.INTERRUPTED, "interrupted (Ctrl-C / SIGTERM); nothing was published, the "
                         "previous data is unchanged")
        return _fail(ExitCode.INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc} (published data "
                     "unchanged; please report it as a bug)")


if __name__ == "__main__":
    sys.exit(main())
