"""Benchmark: pulling a district's LMS over HTTP, with and without failing responses.

    make bench                                         # 20,000 learners (the goal's size)
    .venv/bin/python bench/lms_pull.py --students 2000 # a quick look

Generates the sample district, serves it with the sample LMS (`pathways sample-lms`, in a
process of its own, as a district's Canvas and OneRoster 1.2 REST service would be), and pulls
both APIs into a fresh warehouse, in a fresh process, twice:
  (a) no faults;
  (b) 10% of responses failing: 5% answered 500 and 5% answered only after the client's read
      timeout, drawn from a fixed seed.
Each run reports requests, retries, what the server injected, wall time and the rows of every
raw table, with a fingerprint of their keys and content. Goal: (b) brings every row (the same
fingerprints as (a)) in under 1.5x (a)'s time. Results go to bench/results/lms_pull.json/.md.
"""

import argparse
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BIN = Path(sys.executable).parent
FAULTS = {"error_rate": 0.05, "timeout_rate": 0.05}
# The client's patience: generous next to the sample LMS's usual few milliseconds a page, and
# shorter than the 2 s a timed-out answer takes.
HTTP = {"connect_timeout": 2.0, "read_timeout": 1.0, "max_retries": 10, "backoff_factor": 0.1}
CONCURRENCY = 12
ENV = {"CANVAS_TOKEN": None, "ONEROSTER_CLIENT_ID": None, "ONEROSTER_CLIENT_SECRET": None}


def pull(base_url: str, db: Path) -> dict:
    """Pull both APIs of the sample LMS at `base_url` into a new warehouse `db`."""
    import duckdb

    from models.config import CanvasSource, HttpOptions, OneRosterRestSource
    from pipelines.api_sources import API_SOURCE_KINDS, pull_api_source

    kinds = {kind.kind: kind for kind in API_SOURCE_KINDS}
    http = HttpOptions(**HTTP)
    sources = [
        CanvasSource(
            kind="canvas",
            base_url=base_url,
            token_env="CANVAS_TOKEN",
            http=http,
            concurrency=CONCURRENCY,
        ),
        OneRosterRestSource(
            kind="oneroster_rest",
            base_url=base_url + "/ims/oneroster",
            token_url=base_url + "/oauth/token",
            client_id_env="ONEROSTER_CLIENT_ID",
            client_secret_env="ONEROSTER_CLIENT_SECRET",
            http=http,
            concurrency=CONCURRENCY,
        ),
    ]
    con = duckdb.connect(str(db))
    start = time.perf_counter()
    requests: dict[str, int] = {}
    for source in sources:
        result = pull_api_source(con, kinds[source.kind], source, run_id="bench")
        for measure, value in result.requests.items():
            requests[measure] = requests.get(measure, 0) + value
    seconds = time.perf_counter() - start
    tables = {}
    for kind in kinds.values():
        for table in kind.tables:
            rows, fingerprint = con.execute(
                f"SELECT count(*), coalesce(bit_xor(hash(_key || _content_hash)), 0) "
                f"FROM raw.{table}"
            ).fetchall()[0]
            tables[table] = {"rows": rows, "fingerprint": str(fingerprint)}
    con.close()
    return {"seconds": seconds, "requests": requests, "tables": tables}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(district: Path, port: int, faults: dict) -> subprocess.Popen:
    args = [str(BIN / "pathways"), "sample-lms", "--district", str(district)]
    args += ["--port", str(port), "--fault-seed", "7", "--slow-seconds", "2.0"]
    for name, value in faults.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return server
        if server.poll() is not None:
            raise RuntimeError(f"the sample LMS did not start: {server.stderr.read().decode()}")
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the sample LMS did not start within 2 minutes")


def _served(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)


def run(district: Path, work: Path, name: str, faults: dict, port: int) -> dict:
    server = _serve(district, port, faults)
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--child", f"http://127.0.0.1:{port}", str(work / name)],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        _served(server)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--work", type=Path, default=HERE / "work" / "lms")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(pull(args.child[0], Path(args.child[1]))))
        return

    sys.path.insert(0, str(HERE.parent))
    from sample_district.generate import generate_district

    for name in ENV:
        os.environ.setdefault(name, secrets.token_urlsafe(24))
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    district = generate_district(args.students, args.work / "district").out
    # One port for both runs: records carry their own URLs, so their content depends on it.
    port = _free_port()
    a = run(district, args.work, "clean.duckdb", {}, port)
    print(f"(a) no faults: {a['seconds']:.1f}s, {a['requests']['requests']:,} requests")
    b = run(district, args.work, "faults.duckdb", FAULTS, port)
    print(f"(b) 10% faults: {b['seconds']:.1f}s, {b['requests']['requests']:,} requests")
    ratio = b["seconds"] / a["seconds"]
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "students": args.students,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "faults": FAULTS,
        "http": HTTP,
        "concurrency": CONCURRENCY,
        "no_faults": a,
        "with_faults": b,
        "ratio": round(ratio, 2),
        "every_row_arrived": a["tables"] == b["tables"],
        "goal_met": a["tables"] == b["tables"] and ratio < 1.5,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lms_pull.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "lms_pull.md").write_text(_markdown(result))
    print(_markdown(result))
    shutil.rmtree(args.work, ignore_errors=True)


def _markdown(r: dict) -> str:
    a, b = r["no_faults"], r["with_faults"]
    rows = sum(t["rows"] for t in a["tables"].values())
    lines = [
        f"LMS pull benchmark, {r['students']:,} learners (Canvas + OneRoster 1.2 REST from the "
        f"sample LMS), {r['machine']}, {r['date']}; {r['concurrency']} requests in flight per "
        f"source, read timeout {r['http']['read_timeout']:g} s\n",
        "| run | wall time | requests | retries | 500s seen | timeouts | throttled | rows |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, run_ in (("(a) no faults", a), ("(b) 5% 500s + 5% timeouts", b)):
        q = run_["requests"]
        run_rows = sum(t["rows"] for t in run_["tables"].values())
        lines.append(
            f"| {label} | {run_['seconds']:.1f} s | {q['requests']:,} | {q['retries']:,} | "
            f"{q['server_errors']:,} | {q['timeouts']:,} | {q['throttled']:,} | {run_rows:,} |"
        )
    lines.append(
        f"\nEvery row arrived (same rows and content fingerprints in every raw table as the "
        f"fault-free run, {rows:,} rows): {'yes' if r['every_row_arrived'] else 'NO'}. "
        f"(b)/(a) = {r['ratio']:.2f} (goal < 1.5: {'met' if r['goal_met'] else 'NOT met'}).\n"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
