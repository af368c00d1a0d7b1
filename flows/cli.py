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


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=None, help="output root: a folder, or s3://bucket/prefix (default: out/)")
    p.add_argument("--config", default=None, help="settings TOML file")
    p.add_argument("--runner", choices=["threads", "processes", "dask"], default=None, help="task runner")
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        return _bench(argv[1:])
    parser = argparse.ArgumentParser(prog="nianbao", description="Government-information-disclosure annual "
                                     "reports to validated Parquet.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="process one batch (default: the bundled sample reports)")
    run.add_argument("sources", nargs="*", help="files, folders (<inbox>/<year>/...) or manifests (.csv/.parquet)")
    run.add_argument("--year", type=int, default=None,
                     help="the year reported on; reports of other years are held back")
    _common(run)
    sub.add_parser("bench", help="benchmark accuracy and throughput (tools/bench.py; `nianbao bench --help`)")
    bf = sub.add_parser("backfill", help="run the yearly batch for every year of a range, one after another")
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
    args = parser.parse_args(argv)
    if args.command == "catalog":
        return _catalog(args.out, args.catalog)
    _quiet_prefect_defaults()
    from nianbao.errors import SettingsError
    from nianbao.settings import load_settings

    try:
        cfg = load_settings(args.config, task_runner=getattr(args, "runner", None),
                            max_workers=getattr(args, "workers", None), out_dir=args.out,
                            allow_shrink=getattr(args, "allow_shrink", None))
    except SettingsError as exc:
        print(f"nianbao: {exc}", file=sys.stderr)
        return 2
    if args.command == "rollback":
        return _rollback(cfg.out_dir, args.year)
    from nianbao.errors import PublishConflictError, PublishRefusedError
    from nianbao.exitcodes import ExitCode

    try:
        return _run(args, cfg)
    except PublishRefusedError as exc:  # includes NothingToPublishError
        print(f"nianbao: {exc}", file=sys.stderr)
        return int(ExitCode.NOTHING_PUBLISHED)
    except PublishConflictError as exc:
        print(f"nianbao: {exc}", file=sys.stderr)
        return int(ExitCode.PUBLISH_CONFLICT)


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


def _run(args: argparse.Namespace, cfg: Any) -> int:
    import flows.annual as annual

    # One line per finished report on the terminal (stderr, so --json output stays clean).
    annual.PROGRESS = sys.stderr if cfg.progress else None
    overrides = {k: v for k, v in cfg.to_dict().items() if k != "out_dir"}
    try:
        if args.command == "run":
            flow_fn = annual.annual_batch.with_options(task_runner=annual._task_runner(cfg))
            summary = flow_fn(sources=args.sources or None, year=args.year, out=cfg.out_dir, settings=overrides)
            if args.json:
                print(json.dumps(summary, ensure_ascii=False, indent=1))
            else:
                _print_summary(summary)
            return 0
        if args.command == "backfill":
            from flows.backfill import backfill, check_year_folders

            try:
                check_year_folders(args.sources, args.from_year, args.to_year)
            except ValueError as exc:
                print(f"nianbao: {exc}", file=sys.stderr)
                return 2
            try:
                report = backfill(from_year=args.from_year, to_year=args.to_year, source=args.sources or None,
                                  out=cfg.out_dir, settings=overrides, deployment=None)
            except (RuntimeError, ValueError) as exc:
                print(f"nianbao: {exc}", file=sys.stderr)
                return 1
            if args.json:
                print(json.dumps(report, ensure_ascii=False, indent=1, default=str))
            else:
                _print_backfill(report)
            return 0
    finally:
        annual.PROGRESS = None
    return 1


if __name__ == "__main__":
    sys.exit(main())
