"""`pathways`: generate a sample district, run the nightly job, or do both as a demo."""

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from models.config import ConfigError, PathwaysConfig, SqlSource, load_config
from pipelines.dashboard import dashboard_folder
from pipelines.nightly import NIGHTLY_JOB, build_definitions
from pipelines.run_summary import failure_reason, write_run_summary
from pipelines.safeguards import blackout_skip_message, blackout_today
from pipelines.sis_assets import APPROVED_BY_TAG, SIS_ASSET_NAME, SIS_SQL_ASSET_NAME
from pipelines.transparency import NOTICE_HTML, notice_dir
from pipelines.warehouse import table_row_count

if TYPE_CHECKING:
    from sample_district.badge_server import SampleBadgePlatform
    from sample_district.lms_server import SampleLms

DEMO_STUDENTS = 2_000


@dataclass
class NightSummary:
    """What one nightly run built, for the terminal and for tests."""

    config: PathwaysConfig
    success: bool
    run_id: str
    failures: list[str] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    rejected_rows: int = 0
    rejected_examples: list[str] = field(default_factory=list)
    file_problems: list[str] = field(default_factory=list)
    # Credentials in core.credentials by verification status (empty without credential sources).
    credential_statuses: dict[str, int] = field(default_factory=dict)
    # Learner records in marts.learner_records by status (current, withdrawn).
    learner_records: dict[str, int] = field(default_factory=dict)
    # The night's run-summary.json (see pipelines/run_summary.py).
    run_summary_path: Path | None = None


class _ProgressHandler(logging.Handler):
    """Turns Dagster's step events into one progress bar and a line per finished step."""

    def __init__(self, progress: Progress, task_id, console: Console) -> None:
        super().__init__(level=logging.DEBUG)
        self.progress, self.task_id, self.console = progress, task_id, console

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is None:
            if record.levelno >= logging.WARNING:
                message = meta.get("orig_message", record.getMessage())
                step = meta.get("step_key") or "run"
                self.console.print(f"  [yellow]![/] {step}: {message}", highlight=False)
            return
        kind, step = event.event_type_value, event.step_key
        if kind == "STEP_START":
            self.progress.update(self.task_id, description=step)
        elif kind == "STEP_SUCCESS":
            self.progress.advance(self.task_id)
        elif kind in ("STEP_FAILURE", "STEP_SKIPPED"):
            self.progress.advance(self.task_id)
            if kind == "STEP_FAILURE":
                self.console.print(f"  [red]✗[/] {step}: {failure_reason(event)}")
            else:
                self.console.print(f"  [yellow]–[/] {step}: not run, an upstream step failed")


def run_nightly(
    config_path: Path,
    console: Console | None = None,
    instance: dg.DagsterInstance | None = None,
    approve_deletions: str | None = None,
) -> NightSummary:
    """Run the nightly job for one district in this process and summarize it; the run summary
    JSON is written beside the sync report whether the night succeeds or not.

    `approve_deletions`: the batch id of a SIS load held for a deletion spike, approved for
    this run (recorded in audit.sis_deletion_checks as approved by this user)."""
    console = console or Console(stderr=True)
    config = load_config(config_path)
    run_config: dict = {"loggers": {"terminal": {}}}
    tags: dict[str, str] = {}
    if approve_deletions:
        asset = SIS_SQL_ASSET_NAME if isinstance(config.sources.sis, SqlSource) else SIS_ASSET_NAME
        run_config["ops"] = {asset: {"config": {"approve_deletions_for_batch": approve_deletions}}}
        tags[APPROVED_BY_TAG] = f"pathways run --approve-deletions, user {getpass.getuser()}"
    job = build_definitions(config).resolve_job_def(NIGHTLY_JOB)
    steps = len(list(job.nodes_in_topological_order))
    with Progress(
        TextColumn("[bold]{task.description:<48}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task_id = progress.add_task("starting", total=steps)
        handler = _ProgressHandler(progress, task_id, console)

        @dg.logger
        def terminal(_init_context):
            log = logging.Logger("pathways", level=logging.DEBUG)
            log.addHandler(handler)
            return log

        owned = instance is None
        instance = instance or _instance()
        try:
            result = job.with_logger_defs({"terminal": terminal}).execute_in_process(
                run_config=run_config,
                instance=instance,
                raise_on_error=False,
                tags=tags,
            )
            run_summary_path = write_run_summary(instance, result.run_id, config)
        finally:
            if owned:
                instance.dispose()
        progress.update(task_id, description="done")
    failures = [
        f"{e.step_key}: {failure_reason(e)}"
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]
    summary = NightSummary(
        config=config,
        success=result.success,
        run_id=result.run_id,
        failures=failures,
        run_summary_path=run_summary_path,
    )
    _read_warehouse(config, summary)
    return summary


def _instance() -> dg.DagsterInstance:
    # A configured DAGSTER_HOME keeps run history; otherwise the run leaves no trace but the
    # warehouse itself.
    return (
        dg.DagsterInstance.get()
        if os.environ.get("DAGSTER_HOME")
        else dg.DagsterInstance.ephemeral()
    )


def _read_warehouse(config: PathwaysConfig, summary: NightSummary) -> None:
    if not config.warehouse.path.exists():
        return
    con = duckdb.connect(str(config.warehouse.path), read_only=True)
    try:
        for schema, table in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() UNION ALL "
            "SELECT schema_name, view_name FROM duckdb_views() "
            "WHERE database_name = current_database() AND NOT internal ORDER BY 1, 2"
        ).fetchall():
            summary.tables[f"{schema}.{table}"] = table_row_count(con, schema, table)
        if summary.tables.get("audit.rejected_rows") is not None:
            summary.rejected_rows = con.execute(
                "SELECT count(*) FROM audit.rejected_rows WHERE run_id = ?", [summary.run_id]
            ).fetchone()[0]
            summary.rejected_examples = [
                f"{file} line {line}, {column}: {reason}"
                for file, line, column, reason in con.execute(
                    "SELECT file, line, column_name, reason FROM audit.rejected_rows "
                    "WHERE run_id = ? ORDER BY file, line, column_name LIMIT 10",
                    [summary.run_id],
                ).fetchall()
            ]
            summary.file_problems = [
                f"{file}: {status}: {message}"
                for file, status, message in con.execute(
                    "SELECT file, status, message FROM audit.sis_loads "
                    "WHERE run_id = ? AND status IN ('failed', 'held') ORDER BY file",
                    [summary.run_id],
                ).fetchall()
            ]
        if summary.tables.get("core.credentials"):
            summary.credential_statuses = dict(
                con.execute(
                    "SELECT verification_status, count(*) FROM core.credentials "
                    "GROUP BY ALL ORDER BY 2 DESC, 1"
                ).fetchall()
            )
        if summary.tables.get("marts.learner_records"):
            summary.learner_records = dict(
                con.execute(
                    "SELECT status, count(*) FROM marts.learner_records GROUP BY ALL ORDER BY 1"
                ).fetchall()
            )
    finally:
        con.close()


def print_summary(summary: NightSummary, console: Console) -> None:
    """The end-of-night report: tables, rows, rejected rows, and where the files are."""
    config = summary.config
    table = Table(title=f"{config.district.name}: warehouse after tonight's run")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary.tables.items():
        if name.split(".")[0] in ("core", "marts", "audit"):
            table.add_row(name, f"{rows:,}")
    for layer, label in (("staging", "views: typed, one row per entity"), ("raw", "as received")):
        tables = [r for n, r in summary.tables.items() if n.startswith(f"{layer}.")]
        table.add_row(f"{layer}.* ({len(tables)} tables, {label})", f"{sum(tables):,}")
    console.print(table)
    console.print(f"Rejected rows this run: {summary.rejected_rows:,} (audit.rejected_rows)")
    for line in summary.rejected_examples:
        console.print(f"  {line}", highlight=False)
    for problem in summary.file_problems:
        console.print(f"[red]File problem[/] {problem}")
    if summary.credential_statuses:
        total = sum(summary.credential_statuses.values())
        console.print(
            f"Credentials: {total:,}, each kept with what verifying it found: "
            + ", ".join(
                f"{n:,} {s.replace('_', ' ')}" for s, n in summary.credential_statuses.items()
            )
            + " (marts.credential_verification_summary)",
            highlight=False,
        )
    if summary.learner_records and config.exports is not None:
        console.print(
            "Learner records: "
            + ", ".join(f"{n:,} {s}" for s, n in summary.learner_records.items())
            + f" (marts.learner_records); files in {config.exports.out_dir / 'latest'}/; check "
            "one with `pathways verify FILE`",
            highlight=False,
        )
    for failure in summary.failures:
        console.print(f"[red]Failed[/] {failure}")
    console.print(f"Warehouse:        {config.warehouse.path}")
    console.print(f"Published copy:   {config.warehouse.published_path}")
    for label, path in (
        ("Dashboard:", dashboard_folder(config) / "index.html"),
        ("Public notice:", notice_dir(config) / NOTICE_HTML),
    ):
        if path.exists():
            console.print(f"{label:<18}{path}")
    if summary.run_summary_path is not None:
        console.print(f"Run summary:      {summary.run_summary_path}")
    status = "[green]succeeded[/]" if summary.success else "[red]FAILED[/]"
    console.print(f"Nightly run {summary.run_id} {status}.")


def _cmd_generate(args: argparse.Namespace, console: Console) -> int:
    from sample_district.generate import generate_district

    district = generate_district(args.students, Path(args.out), seed=args.seed)
    console.print(
        f"Wrote a {args.students:,}-learner OneRoster 1.2 district to {district.oneroster_path}"
    )
    console.print(f"Config: {district.config_path}")
    return 0


def _cmd_run(args: argparse.Namespace, console: Console) -> int:
    # A scheduled night skips blackout dates; so does a plain `pathways run` (it is what a
    # district's own cron calls), with exit status 0 since nothing went wrong.
    config = load_config(Path(args.config))
    window = blackout_today(config)
    if window is not None and not args.ignore_blackout:
        today = datetime.now(ZoneInfo(config.district.timezone)).date()
        console.print(
            f"Not run: {blackout_skip_message(window, today)}. "
            "Add --ignore-blackout to run anyway.",
            highlight=False,
        )
        return 0
    if window is not None:
        console.print(f"[yellow]Running in the blackout window {window.describe()}[/]")
    summary = run_nightly(Path(args.config), console, approve_deletions=args.approve_deletions)
    print_summary(summary, console)
    return 0 if summary.success and not summary.file_problems else 1


def _cmd_demo(args: argparse.Namespace, console: Console) -> int:
    from sample_district.badge_server import point_config_at_badges
    from sample_district.faults import add_typical_faults
    from sample_district.generate import generate_district
    from sample_district.lms_server import point_config_at

    out = Path(args.out)
    district = generate_district(args.students, out, seed=args.seed)
    console.print(f"Generated a {args.students:,}-learner sample district in {out}/, with")
    for fault in add_typical_faults(district.oneroster_path):
        console.print(f"  a typical export fault: {fault}")
    with (
        _sample_lms(district.out, args.lms_port) as lms,
        _sample_badges(district.out, args.badge_port, args.seed) as badges,
    ):
        point_config_at(district.config_path, lms)
        point_config_at_badges(district.config_path, badges)
        console.print(
            f"Serving its Canvas and OneRoster 1.2 REST service at {lms.base_url} "
            "(the sample LMS); the night pulls them over HTTP."
        )
        console.print(
            f"Serving its Open Badges 3.0, Badgr and Credly APIs at {badges.base_url} (the sample "
            f"badge platform), beside its badge folder {district.out / 'badges'}/."
        )
        summary = run_nightly(district.config_path, console)
    print_summary(summary, console)
    console.print(
        "Explore it: `make ui` opens the Dagster UI (and serves the sample LMS and badge platform "
        "again); dashboards and any DuckDB client open "
        f"{district.out / 'published' / 'warehouse.duckdb'} read-only."
    )
    return 0 if summary.success and not summary.file_problems else 1


@contextmanager
def _sample_lms(district: Path, port: int) -> Iterator["SampleLms"]:
    """The sample LMS over `district`, with credentials from the environment (made up where
    unset: see `_sample_credentials`)."""
    from sample_district.lms_server import (
        CANVAS_TOKEN_ENV,
        CLIENT_ID_ENV,
        CLIENT_SECRET_ENV,
        SampleLms,
    )

    _sample_credentials()
    lms = SampleLms(
        district,
        port=port,
        canvas_token=os.environ[CANVAS_TOKEN_ENV],
        client_id=os.environ[CLIENT_ID_ENV],
        client_secret=os.environ[CLIENT_SECRET_ENV],
    ).start()
    try:
        yield lms
    finally:
        lms.stop()


@contextmanager
def _sample_badges(district: Path, port: int, seed: int = 42) -> Iterator["SampleBadgePlatform"]:
    """The sample badge platform over `district`, with credentials from the environment (made up
    where unset: see `_sample_credentials`)."""
    from sample_district.badge_server import (
        BADGES_CLIENT_ID_ENV,
        BADGES_CLIENT_SECRET_ENV,
        BADGR_TOKEN_ENV,
        CREDLY_TOKEN_ENV,
        SampleBadgePlatform,
    )

    _sample_credentials()
    platform = SampleBadgePlatform(
        district,
        port=port,
        client_id=os.environ[BADGES_CLIENT_ID_ENV],
        client_secret=os.environ[BADGES_CLIENT_SECRET_ENV],
        badgr_token=os.environ[BADGR_TOKEN_ENV],
        credly_token=os.environ[CREDLY_TOKEN_ENV],
        seed=seed,
    ).start()
    try:
        yield platform
    finally:
        platform.stop()


def _sample_credentials(names: tuple[str, ...] | None = None) -> list[str]:
    """The sample servers' credentials (the sample LMS's and the sample badge platform's, or
    just `names`) come from the environment; those unset (or empty) are made up and put there
    for this process, as they guard only sample data. Returns the names made up, so a caller
    may print them for a client to use."""
    import secrets

    from sample_district.badge_server import BADGE_PLATFORM_ENV
    from sample_district.lms_server import CANVAS_TOKEN_ENV, CLIENT_ID_ENV, CLIENT_SECRET_ENV

    if names is None:
        names = (CANVAS_TOKEN_ENV, CLIENT_ID_ENV, CLIENT_SECRET_ENV, *BADGE_PLATFORM_ENV)
    made_up = [name for name in names if not os.environ.get(name)]
    for name in made_up:
        os.environ[name] = secrets.token_urlsafe(24)
    return made_up


def _cmd_sample_lms(args: argparse.Namespace, console: Console) -> int:
    import signal
    import time

    from sample_district.lms_server import (
        CANVAS_TOKEN_ENV,
        CLIENT_ID_ENV,
        CLIENT_SECRET_ENV,
        Faults,
        SampleLms,
        Throttle,
    )

    made_up = _sample_credentials((CANVAS_TOKEN_ENV, CLIENT_ID_ENV, CLIENT_SECRET_ENV))
    faults = Faults(
        error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        truncate_rate=args.truncate_rate,
        slow_seconds=args.slow_seconds,
        seed=args.fault_seed,
    )
    console.print(f"Loading {args.district} …")
    lms = SampleLms(
        Path(args.district),
        host=args.host,
        port=args.port,
        canvas_token=os.environ[CANVAS_TOKEN_ENV],
        client_id=os.environ[CLIENT_ID_ENV],
        client_secret=os.environ[CLIENT_SECRET_ENV],
        faults=faults,
        throttle=Throttle(
            capacity=args.bucket_capacity,
            request_cost=args.request_cost,
            leak_rate=args.leak_rate,
            status=args.throttle_status,
        ),
    ).start()
    console.print(f"Canvas API:      {lms.canvas_url}/api/v1/…", highlight=False)
    console.print(f"OneRoster 1.2:   {lms.oneroster_url}/rostering/v1p2/…", highlight=False)
    console.print(f"OAuth2 token:    {lms.token_url}", highlight=False)
    if made_up:
        console.print("Generated credentials (set these in the client's shell):")
        # Only made-up secrets are printed; one that came from the environment never is.
        for name in made_up:
            print(f"export {name}={os.environ[name]}")
    console.print("Serving until Ctrl-C.")

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # A supervisor (the demo, a benchmark) stops the server with SIGTERM, a person with Ctrl-C.
    signal.signal(signal.SIGTERM, interrupt)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("Stopping.")
    finally:
        lms.stop()
    return 0


def _cmd_sample_badges(args: argparse.Namespace, console: Console) -> int:
    import signal
    import time

    from sample_district.badge_server import (
        BADGE_PLATFORM_ENV,
        BADGES_CLIENT_ID_ENV,
        BADGES_CLIENT_SECRET_ENV,
        BADGR_TOKEN_ENV,
        CREDLY_TOKEN_ENV,
        SampleBadgePlatform,
    )
    from sample_district.lms_server import Faults

    made_up = _sample_credentials(BADGE_PLATFORM_ENV)
    faults = Faults(
        error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        truncate_rate=args.truncate_rate,
        slow_seconds=args.slow_seconds,
        seed=args.fault_seed,
    )
    console.print(f"Loading {args.district} …")
    platform = SampleBadgePlatform(
        Path(args.district),
        host=args.host,
        port=args.port,
        client_id=os.environ[BADGES_CLIENT_ID_ENV],
        client_secret=os.environ[BADGES_CLIENT_SECRET_ENV],
        badgr_token=os.environ[BADGR_TOKEN_ENV],
        credly_token=os.environ[CREDLY_TOKEN_ENV],
        faults=faults,
        seed=args.seed,
    ).start()
    console.print(
        f"Open Badges 3.0:  {platform.ob3_url}/credentials", highlight=False, soft_wrap=True
    )
    console.print(f"OAuth2 token:     {platform.token_url}", highlight=False, soft_wrap=True)
    console.print(
        f"Badgr v2:         {platform.badgr_url}/v2/issuers/… (issuers "
        f"{', '.join(platform.badgr_issuer_ids)})",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"Credly:           {platform.credly_url}/v1/organizations/"
        f"{platform.credly_organization_id}/badges",
        highlight=False,
        soft_wrap=True,
    )
    if made_up:
        console.print("Generated credentials (set these in the client's shell):")
        # Only made-up secrets are printed; one that came from the environment never is.
        for name in made_up:
            print(f"export {name}={os.environ[name]}")
    console.print("Serving until Ctrl-C.")

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # A supervisor (`make ui`) stops the server with SIGTERM, a person with Ctrl-C.
    signal.signal(signal.SIGTERM, interrupt)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("Stopping.")
    finally:
        platform.stop()
    return 0


def _cmd_keys_generate(args: argparse.Namespace, console: Console) -> int:
    from models.credentials import issue, keys

    out = Path(args.out)
    if out.exists() and not args.force:
        console.print(f"[red]{out} exists[/]; pass --force to replace it (the old key is lost)")
        return 2
    private_key = keys.generate_private_key()
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp")
    temporary.unlink(missing_ok=True)
    # Readable by its owner only, from the moment it exists.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(keys.secret_key_multibase(private_key) + "\n")
    os.replace(temporary, out)
    public = private_key.public_key()
    console.print(f"Wrote a new Ed25519 signing key to {out} (mode 600). Keep it out of the")
    console.print("repository and the warehouse; point exports.key.path at it, or put its")
    console.print("content in the environment variable exports.key.env names.")
    print(f"did:key:             {keys.did_key(public)}")
    print(f"verificationMethod:  {keys.did_key_verification_method(public)}")
    print(f"publicKeyMultibase:  {keys.public_key_multibase(public)}")
    if args.did_web:
        document = issue.did_web_document(args.did_web, private_key)
        target = Path(args.did_document or out.with_name("did.json"))
        target.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        url = keys.did_web_document_url(args.did_web)
        print(f"did:web document:    {target} (publish it at {url})")
    return 0


_OUTCOME_MARK = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "skip": "SKIP"}


def _cmd_verify(args: argparse.Namespace, console: Console) -> int:
    from datetime import UTC, datetime

    from connectors.trust_cache import load_trust_store
    from models.credentials.clr import verify_record
    from models.credentials.jws import parse_datetime
    from models.credentials.record import TrustStore

    trust, problems = load_trust_store(Path(args.trust)) if args.trust else (TrustStore(), [])
    for problem in problems:
        print(f"trust folder: {problem}")
    status_lists = dict(trust.status_lists)
    for given in args.status_list or []:
        path = Path(given)
        for file in sorted(path.glob("*.json")) if path.is_dir() else [path]:
            try:
                document = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                print(f"status list {file}: not readable ({error})")
                return 2
            if isinstance(document, dict) and isinstance(document.get("id"), str):
                status_lists[document["id"]] = document
    trust = TrustStore(
        did_documents=trust.did_documents, status_lists=status_lists, hosted=trust.hosted
    )
    now = parse_datetime(args.at) if args.at else datetime.now(UTC)
    if now is None:
        print(f"--at {args.at!r} is not a date or time")
        return 2
    failed = 0
    for name in args.files:
        path = Path(name)
        try:
            data = path.read_bytes()
        except OSError as error:
            print(f"{name}: cannot be read ({error.strerror})")
            failed += 1
            continue
        result = verify_record(data, trust=trust, now=now)
        print(f"{name}")
        sections = [("", result.outer), *result.nested]
        for where, verification in sections:
            if where:
                print(f"  {where}")
            for check in verification.checks:
                label = _CHECK_NAMES.get(check.name, check.name)
                print(f"    {_OUTCOME_MARK[check.outcome]}  {label:<10} {check.message}")
        verdict = "VERIFIED" if result.passed else "NOT VERIFIED"
        credentials = 1 + len(result.nested)
        bad = [v for _, v in sections if v.status != "verified"]
        detail = f": {bad[0].reason}" if bad else ""
        print(f"  {verdict} ({credentials} credential{'s' if credentials > 1 else ''}){detail}")
        failed += not result.passed
    if len(args.files) > 1:
        print(f"{len(args.files) - failed} of {len(args.files)} files verified")
    return 0 if failed == 0 else 1


_CHECK_NAMES = {
    "structure": "structure",
    "context": "contexts",
    "terms": "terms",
    "proof": "signature",
    "jws": "signature",
    "status": "status",
    "validity": "dates",
    "schema": "schema",
    "recipient": "recipient",
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `pathways` command."""
    parser = argparse.ArgumentParser(prog="pathways", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write a synthetic OneRoster district")
    generate.add_argument("--students", type=int, required=True, help="number of learners")
    generate.add_argument("--out", required=True, help="folder to write into")
    generate.add_argument("--seed", type=int, default=42, help="same seed, same district")

    run = commands.add_parser("run", help="run the nightly job for a district, in this process")
    run.add_argument("--config", default="pathways.yaml", help="path to pathways.yaml")
    run.add_argument(
        "--approve-deletions",
        metavar="BATCH_ID",
        help="apply the deletions of this held SIS batch once (the id the hold message names)",
    )
    run.add_argument(
        "--ignore-blackout",
        action="store_true",
        help="run even on a date in a schedule.blackout window",
    )

    demo = commands.add_parser("demo", help="generate the sample district and run a night")
    demo.add_argument("--students", type=int, default=DEMO_STUDENTS)
    demo.add_argument("--out", default="demo")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument(
        "--lms-port", type=int, default=8765, help="port of the sample LMS (0: any free port)"
    )
    demo.add_argument(
        "--badge-port",
        type=int,
        default=8766,
        help="port of the sample badge platform (0: any free port)",
    )

    lms = commands.add_parser(
        "sample-lms", help="serve a district as a local Canvas and OneRoster 1.2 REST service"
    )
    lms.add_argument("--district", required=True, help="a folder `pathways generate` wrote")
    lms.add_argument("--host", default="127.0.0.1")
    lms.add_argument("--port", type=int, default=8765)
    lms.add_argument("--error-rate", type=float, default=0.0, help="share answered 500")
    lms.add_argument("--timeout-rate", type=float, default=0.0, help="share answered late")
    lms.add_argument("--truncate-rate", type=float, default=0.0, help="share with a cut body")
    lms.add_argument("--fault-seed", type=int, default=0, help="same seed, same faults")
    lms.add_argument(
        "--slow-seconds", type=float, default=2.0, help="how late a timed-out answer comes"
    )
    lms.add_argument("--throttle-status", type=int, choices=(403, 429), default=403)
    lms.add_argument("--bucket-capacity", type=float, default=700.0, help="Canvas throttle units")
    lms.add_argument("--request-cost", type=float, default=0.05, help="units a request costs")
    lms.add_argument("--leak-rate", type=float, default=10.0, help="units leaked per second")

    badges = commands.add_parser(
        "sample-badges",
        help="serve a district's credentials as local Open Badges 3.0, Badgr and Credly APIs",
    )
    badges.add_argument("--district", required=True, help="a folder `pathways generate` wrote")
    badges.add_argument("--host", default="127.0.0.1")
    badges.add_argument("--port", type=int, default=8766)
    badges.add_argument(
        "--seed", type=int, default=42, help="the district's seed, if its badges must be written"
    )
    badges.add_argument("--error-rate", type=float, default=0.0, help="share answered 500")
    badges.add_argument("--timeout-rate", type=float, default=0.0, help="share answered late")
    badges.add_argument("--truncate-rate", type=float, default=0.0, help="share with a cut body")
    badges.add_argument("--fault-seed", type=int, default=0, help="same seed, same faults")
    badges.add_argument(
        "--slow-seconds", type=float, default=2.0, help="how late a timed-out answer comes"
    )

    key_commands = commands.add_parser("keys", help="the district's signing keys").add_subparsers(
        dest="keys_command", required=True
    )
    generate_key = key_commands.add_parser(
        "generate", help="create an Ed25519 key to sign learner records with"
    )
    generate_key.add_argument("--out", required=True, help="file to write the secret key to")
    generate_key.add_argument("--force", action="store_true", help="replace an existing file")
    generate_key.add_argument(
        "--did-web", help="the district's did:web DID, to write the DID document to publish"
    )
    generate_key.add_argument("--did-document", help="where to write it (default: did.json)")

    verify = commands.add_parser(
        "verify",
        help="verify Open Badges 3.0 / CLR 2.0 credentials (JSON or JWT), offline",
        description="Checks every proof (nested ones too), the official 1EdTech schema, the "
        "validity dates and revocation, and prints each check. Exit status 0 only if every "
        "file passes every check.",
    )
    verify.add_argument("files", nargs="+", help="credential files (.json or .jwt)")
    verify.add_argument(
        "--status-list",
        action="append",
        help="a status list credential file, or a folder of them (repeatable)",
    )
    verify.add_argument("--trust", help="a trust folder: cached did:web documents and status lists")
    verify.add_argument("--at", help="verify as of this date/time (default: now)")

    args = parser.parse_args(argv)
    console = Console()
    handlers = {
        "generate": _cmd_generate,
        "run": _cmd_run,
        "demo": _cmd_demo,
        "sample-lms": _cmd_sample_lms,
        "sample-badges": _cmd_sample_badges,
        "keys": _cmd_keys_generate,
        "verify": _cmd_verify,
    }
    try:
        return handlers[args.command](args, console)
    except ConfigError as exc:
        console.print(f"[red]Configuration error[/]\n{exc}", highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
