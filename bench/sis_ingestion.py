"""Benchmark: Pathways' SIS ingestion against a bare DuckDB `read_csv` of the same export.

    make bench                      # 1,000,000 learners (the goal is measured at this size)
    .venv/bin/python bench/sis_ingestion.py --students 50000   # a quick look

Generates the sample district, then in a fresh process each:
  (a) bare:     `CREATE TABLE … AS SELECT * FROM read_csv(file, …)` per file, with the CSV
                dialect stated and every column text, as Pathways reads them (left to sniff,
                DuckDB misreads OneRoster list columns whose quotes only appear deep in a file);
  (b) pathways: the real nightly assets for the SIS export — validation, rejects, raw — and every
                staging model built on it, materialized through Dagster into a new warehouse
                (the district's other sources, its badge folder and LMS, are left out).
For reference, (a) is also timed with the CSV buffer size Pathways reads with (DuckDB's default
reads the big files of this export slower): the goal is stated against (a), this shows how much
of (b)'s lead is the buffer.
Wall time and peak memory (RSS of the process) of each go to bench/results/sis_ingestion.json
and .md. Goal: (b) within 1.5x of (a), peak memory under 2 GB.
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

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bare(export: Path, db: Path, memory_limit: str, buffer_size: int | None = None) -> dict:
    """(a) DuckDB alone: read every CSV of the export into a table, with the memory limit the
    warehouse connection of (b) runs with (and, for reference, a given CSV buffer size)."""
    import duckdb

    buffer = f", buffer_size = {int(buffer_size)}" if buffer_size else ""
    start = time.perf_counter()
    con = duckdb.connect(str(db), config={"memory_limit": memory_limit})
    rows = 0
    for csv_file in sorted(export.glob("*.csv")):
        if csv_file.name == "manifest.csv":
            continue
        table = csv_file.stem
        con.execute(
            f'CREATE TABLE "{table}" AS SELECT * FROM read_csv(?, header = true, '
            f"delim = ',', quote = '\"', escape = '\"', all_varchar = true{buffer})",
            [str(csv_file)],
        )
        rows += con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    con.close()
    return {"seconds": time.perf_counter() - start, "rows": rows, "peak_rss_mb": _peak_rss_mb()}


def pathways(config_path: Path) -> dict:
    """(b) Pathways: the SIS asset and the staging models built on it, through Dagster."""
    import dagster as dg

    from connectors.oneroster_csv import raw_table
    from models.config import load_config
    from models.oneroster_spec import known_files
    from pipelines.nightly import build_definitions
    from pipelines.sis_assets import raw_oneroster_key

    config = load_config(config_path)
    defs = build_definitions(config)
    graph = defs.resolve_asset_graph()
    # The SIS asset (every raw.oneroster_* table) and the staging models built on it; the
    # district's other sources (badge folder, LMS) are not SIS ingestion.
    sis = {raw_oneroster_key(file) for file in known_files()}
    staging = [
        key
        for key in graph.materializable_asset_keys
        if key.path[0] == "staging" and graph.get(key).parent_keys & sis
    ]
    selection = [*sis, *staging]
    job = defs.resolve_implicit_global_asset_job_def()
    # In process, on Dagster's ephemeral (in-memory) instance, as `pathways run` runs a night
    # when no DAGSTER_HOME is set; a SQLite-backed instance adds its event log's writes.
    with dg.DagsterInstance.ephemeral() as instance:
        start = time.perf_counter()
        result = job.execute_in_process(
            instance=instance, asset_selection=selection, raise_on_error=True
        )
        seconds = time.perf_counter() - start
    import duckdb

    con = duckdb.connect(str(config.warehouse.path), read_only=True)
    raw_rows = sum(
        con.execute(f"SELECT count(*) FROM {raw_table(file)}").fetchone()[0]
        for file in known_files()
    )
    rejected = con.execute("SELECT count(*) FROM audit.rejected_rows").fetchone()[0]
    con.close()
    return {
        "seconds": seconds,
        "success": result.success,
        "raw_rows": raw_rows,
        "rejected_rows": rejected,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _child(kind: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each, interleaved; medians are reported"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, *rest = args.child
        if kind == "pathways":
            out = pathways(Path(rest[0]))
        else:
            out = bare(Path(rest[0]), Path(rest[1]), rest[2], int(rest[3]) if rest[3:] else None)
        print(json.dumps(out))
        return

    sys.path.insert(0, str(HERE.parent))
    from sample_district.generate import generate_district

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    start = time.perf_counter()
    district = generate_district(args.students, args.work / "district")
    generate_seconds = time.perf_counter() - start
    export_mb = sum(f.stat().st_size for f in district.oneroster_path.iterdir()) / 2**20
    print(f"generated {args.students:,} learners in {generate_seconds:.1f}s ({export_mb:,.0f} MB)")

    from models.config import load_config

    config = load_config(district.config_path)
    memory_limit = config.warehouse.memory_limit
    # On a shared machine one run of each says little: they alternate, each in a fresh
    # process on a new database, and the medians are compared. The load average before each
    # run is kept with it.
    from connectors.oneroster_csv import CSV_BUFFER_BYTES

    runs: dict[str, list[dict]] = {"bare": [], "pathways": [], "bare_buffer": []}
    for _ in range(args.repeat):
        for kind in runs:
            (args.work / "bare.duckdb").unlink(missing_ok=True)
            shutil.rmtree(config.warehouse.path.parent, ignore_errors=True)
            load = os.getloadavg()[0]
            if kind == "pathways":
                out = _child("pathways", str(district.config_path))
            else:
                bare_args = [str(district.oneroster_path), str(args.work / "bare.duckdb")]
                bare_args.append(memory_limit)
                if kind == "bare_buffer":
                    bare_args.append(str(CSV_BUFFER_BYTES))
                out = _child("bare", *bare_args)
            runs[kind].append({**out, "load_average_before": load})
            peak = out["peak_rss_mb"]
            print(f"{kind}: {out['seconds']:.1f}s, peak {peak:,.0f} MB (load {load:.1f})")
    a, b, a_buffer = (_median_run(runs[kind]) for kind in runs)

    ratio = b["seconds"] / a["seconds"]
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "students": args.students,
        "machine": f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}",
        "memory_limit": memory_limit,
        "repeat": args.repeat,
        "generate_seconds": round(generate_seconds, 1),
        "export_mb": round(export_mb),
        "bare_read_csv": a,
        "pathways_sis_to_staging": b,
        "bare_read_csv_pathways_buffer": {**a_buffer, "buffer_size": CSV_BUFFER_BYTES},
        "runs": runs,
        "ratio": round(ratio, 2),
        "ratio_to_bare_with_pathways_buffer": round(b["seconds"] / a_buffer["seconds"], 2),
        "goal_ratio_met": ratio <= 1.5,
        "goal_memory_met": b["peak_rss_mb"] < 2048,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sis_ingestion.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "sis_ingestion.md").write_text(_markdown(result))
    print(_markdown(result))
    shutil.rmtree(args.work, ignore_errors=True)


def _median_run(runs: list[dict]) -> dict:
    """The run with the median wall time (the lower middle one of an even number), with the
    highest peak memory of them all."""
    middle = sorted(runs, key=lambda run: run["seconds"])[(len(runs) - 1) // 2]
    return {**middle, "peak_rss_mb": max(run["peak_rss_mb"] for run in runs)}


def _cores() -> int:
    return os.cpu_count() or 1


def _markdown(r: dict) -> str:
    a, b = r["bare_read_csv"], r["pathways_sis_to_staging"]
    a_buffer = r["bare_read_csv_pathways_buffer"]
    return (
        f"SIS ingestion benchmark, {r['students']:,} learners ({r['export_mb']:,} MB of CSV), "
        f"{r['machine']}, {r['date']}; DuckDB memory_limit {r['memory_limit']} on both sides; "
        f"median of {r['repeat']} alternating runs of each (wall times: "
        f"(a) {_seconds(r['runs']['bare'])}, (b) {_seconds(r['runs']['pathways'])}, "
        f"(a) with Pathways' buffer {_seconds(r['runs']['bare_buffer'])}; "
        f"load average before them: {_loads(r['runs'])})\n\n"
        "| step | wall time | peak memory |\n| --- | ---: | ---: |\n"
        f"| generate the district | {r['generate_seconds']:.1f} s | |\n"
        f"| (a) bare DuckDB read_csv into tables | {a['seconds']:.1f} s | "
        f"{a['peak_rss_mb']:,.0f} MB |\n"
        f"| (b) Pathways: validate, load raw, build staging | {b['seconds']:.1f} s | "
        f"{b['peak_rss_mb']:,.0f} MB |\n\n"
        f"(b)/(a) = {r['ratio']:.2f} (goal ≤ 1.5: {'met' if r['goal_ratio_met'] else 'NOT met'}); "
        f"peak memory goal < 2 GB: {'met' if r['goal_memory_met'] else 'NOT met'}.\n\n"
        f"For reference, (a) with the CSV buffer Pathways reads with "
        f"({a_buffer['buffer_size'] // 2**20} MB, DuckDB's default otherwise): "
        f"{a_buffer['seconds']:.1f} s, {a_buffer['peak_rss_mb']:,.0f} MB; "
        f"(b) against it: {r['ratio_to_bare_with_pathways_buffer']:.2f}.\n"
    )


def _seconds(runs: list[dict]) -> str:
    return ", ".join(f"{run['seconds']:.1f}" for run in runs) + " s"


def _loads(runs: dict[str, list[dict]]) -> str:
    return ", ".join(
        "/".join(f"{run['load_average_before']:.1f}" for run in round_)
        for round_ in zip(*runs.values(), strict=True)
    )


if __name__ == "__main__":
    main()
