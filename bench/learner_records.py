"""Learner-record export benchmark: the first export of a sample district, then a second night
with 1% of its learners changed.

Builds a sample district's warehouse with the real night (exports switched off), then runs the
export itself twice, each in a fresh process: the first night signs every record; before the
second, one mastered competency score of 1% of the learners with a record is raised in
`core.competency_results` (what a night's new gradebook evidence does), so exactly those are
rebuilt and re-signed and everyone else is hard-linked. Reports records/s, credentials signed
per second and per core (CPU seconds of the signing processes), wall time, and peak memory (the
exporting process and the largest signing process). Writes `bench/results/learner_records.md`.

    .venv/bin/python bench/learner_records.py [--students 50000] [--work bench/work/records]
        [--workers N]

`--workers 1` signs in one process, so the per-core rate is least disturbed by other work on
the machine; the default is the exporter's (one signing process per core).
"""

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _set_workers(config_path: Path, workers: int) -> None:
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["exports"]["workers"] = workers
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def _night_without_exports(config_path: Path) -> float:
    from rich.console import Console

    from pipelines.cli import run_nightly

    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["exports"]["enabled"] = False
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    started = time.perf_counter()
    summary = run_nightly(config_path, Console(stderr=True, width=120))
    if not summary.success:
        raise SystemExit(f"the night failed: {summary.failures}")
    config["exports"]["enabled"] = True
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return time.perf_counter() - started


def _export_step(config_path: Path) -> None:
    """One export night in this process; prints its measurements as JSON."""
    import duckdb

    from models.config import load_config
    from pipelines.exports import export_learner_records

    config = load_config(config_path)
    con = duckdb.connect(
        str(config.warehouse.path), config={"memory_limit": config.warehouse.memory_limit}
    )
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    summary = export_learner_records(con, config, f"bench-{time.time_ns()}", datetime.now(UTC))
    wall = time.perf_counter() - started
    con.close()
    result = {
        "wall": wall,
        # The machine's 1-minute load average as the export began and ended: the wall times
        # (not the per-core rate, in CPU seconds) depend on it.
        "load": [load_before, os.getloadavg()[0]],
        "records": summary.records,
        "built": summary.built,
        "signed": summary.signed,
        "unchanged": summary.unchanged,
        "credentials_signed": summary.credentials_signed,
        "sign_seconds": summary.sign_seconds,
        "sign_cpu_seconds": summary.sign_cpu_seconds,
        "workers": summary.workers,
        # ru_maxrss is in KiB on Linux.
        "peak_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        # Reported by the signing processes themselves: RUSAGE_CHILDREN would count the copy of
        # this process each one briefly is before it execs.
        "peak_worker_mb": summary.peak_signer_mb,
    }
    print(json.dumps(result))


def _change_one_percent(config_path: Path) -> int:
    """Give 1% of the learners with a record one newly mastered competency (a copy of one of
    their mastered results, for a learning objective they had not mastered); how many."""
    import duckdb

    from models.config import load_config

    config = load_config(config_path)
    with duckdb.connect(str(config.warehouse.path)) as con:
        total = con.execute("SELECT count(*) FROM marts.learner_records").fetchone()[0]
        learners = [
            row[0]
            for row in con.execute(
                "SELECT DISTINCT learner_sourced_id FROM core.competency_results "
                "WHERE is_mastered AND learner_sourced_id IS NOT NULL "
                "ORDER BY hash(learner_sourced_id) LIMIT $n",
                {"n": max(1, total // 100)},
            ).fetchall()
        ]
        con.execute(
            """
            INSERT INTO core.competency_results
            SELECT * REPLACE (
                'urn:pathways:bench:' || md5(learner_sourced_id) AS learning_objective_id,
                'Benchmark competency' AS learning_objective_title
            )
            FROM (
                SELECT * FROM core.competency_results
                WHERE is_mastered AND learner_sourced_id IN (SELECT unnest($ids::VARCHAR[]))
                QUALIFY row_number() OVER (
                    PARTITION BY learner_sourced_id ORDER BY learning_objective_id, source_system
                ) = 1
            )
            """,
            {"ids": learners},
        )
    return len(learners)


def _run_step(config_path: Path) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--step", "export", "--config", str(config_path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--work", default=str(ROOT / "bench" / "work" / "records"))
    parser.add_argument(
        "--workers", type=int, help="signing processes (default: one per core available)"
    )
    parser.add_argument("--step", choices=["export"], help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "export":
        _export_step(Path(args.config))
        return

    from sample_district.generate import generate_district

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    started = time.perf_counter()
    district = generate_district(args.students, work, seed=42)
    generated = time.perf_counter() - started
    print(f"generated {args.students:,} learners in {generated:.1f} s", flush=True)
    if args.workers:
        _set_workers(district.config_path, args.workers)
    night = _night_without_exports(district.config_path)
    print(f"night without exports: {night:.1f} s", flush=True)
    first = _run_step(district.config_path)
    print(f"first export: {json.dumps(first)}", flush=True)
    changed = _change_one_percent(district.config_path)
    second = _run_step(district.config_path)
    print(f"second export ({changed:,} learners changed): {json.dumps(second)}", flush=True)
    _report(args.students, changed, generated, night, first, second)


def _report(students: int, changed: int, generated: float, night: float, first, second) -> None:
    def per_core(step: dict) -> float:
        return (
            step["credentials_signed"] / step["sign_cpu_seconds"] if step["sign_cpu_seconds"] else 0
        )

    share = second["wall"] / first["wall"]
    rate = per_core(first)
    lines = [
        f"Learner-record export benchmark, {students:,} learners, {platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}, "
        f"{datetime.now(UTC).isoformat(timespec='seconds')}",
        "",
        "| night | records | built | re-signed | credentials signed | wall time | records/s "
        "| signed/s | signed/s per core (CPU) | signing processes | load average "
        "| peak memory (main / worker) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, step in (("first", first), (f"second ({changed:,} changed)", second)):
        lines.append(
            f"| {name} | {step['records']:,} | {step['built']:,} | {step['signed']:,} "
            f"| {step['credentials_signed']:,} | {step['wall']:.1f} s "
            f"| {step['records'] / step['wall']:,.0f} "
            f"| {step['credentials_signed'] / step['wall']:,.0f} | {per_core(step):,.0f} "
            f"| {step['workers'] or 'in-process'} "
            f"| {step['load'][0]:.1f} → {step['load'][1]:.1f} "
            f"| {step['peak_main_mb']:,.0f} MB / {step['peak_worker_mb']:,.0f} MB |"
        )
    lines += [
        "",
        f"Generating the district took {generated:.1f} s and its night without exports "
        f"{night:.1f} s (not counted above). Load average: the machine's 1-minute load as each "
        "export began → ended.",
        f"Second night / first night = {share:.1%} "
        f"(goal < 5%: {'met' if share < 0.05 else 'NOT met'}).",
        f"Signed credentials per second per core = {rate:,.0f} (goal ≥ 400: "
        f"{'met' if rate >= 400 else 'NOT met'}).",
    ]
    text = "\n".join(lines) + "\n"
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "learner_records.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
