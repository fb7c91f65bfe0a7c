"""How interoperable each connected system is, and where that puts the district on the readiness
framework's two data-infrastructure indicators. Pure rules, no I/O: the scorecard asset
(`pipelines.interoperability_assets`) measures, these functions judge.

Every kind of source the config knows is declared once in `SYSTEM_PROFILES`: the open standard it
speaks and which family of measures applies to it (a SIS load, an LMS's accounts and enrollments,
a credential platform's records). A new kind of source joins the scorecard by adding a row there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from models.config import InteroperabilitySettings
from models.readiness import Level

INTEROPERABILITY_INDICATOR = "data_security_privacy_and_infrastructure.interoperable_infrastructure"
TRANSPARENCY_INDICATOR = "data_security_privacy_and_infrastructure.data_collection_transparency"


class Family(StrEnum):
    """Which measures apply to a system: what its rows are and where its syncs are recorded."""

    SIS = "sis"  # the master of identity: audit.sis_loads, audit.rejected_rows
    LMS = "lms"  # accounts, courses and enrollments over an API: audit.api_syncs
    CREDENTIALS = "credentials"  # credential records, verified offline: audit.api_syncs


class Status(StrEnum):
    """The verdict of one system's check tonight (ordered: a worse finding wins)."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


_SEVERITY = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


@dataclass(frozen=True)
class SystemProfile:
    """What a kind of source is to the scorecard.

    `standard` may hold `{version}`, filled from what tonight's data says (the OneRoster version
    of the export's manifest, the Open Badges versions of a badge folder's files). `open_standard`
    is whether that interface is published for anyone to implement; a proprietary one can be
    linked, but does not count towards "every system linked by an open standard".
    `inventory_system` is the system in the data inventory (`models/data_inventory.yaml`) that
    declares its raw tables."""

    family: Family
    standard: str
    open_standard: bool
    inventory_system: str


SYSTEM_PROFILES: Mapping[str, SystemProfile] = {
    "oneroster_csv": SystemProfile(Family.SIS, "OneRoster {version}", True, "oneroster"),
    # The district's own schema, mapped to OneRoster columns by pathways.yaml: not a standard
    # interface of the SIS, so such a district tops out at Practicing until the SIS exports.
    "sql": SystemProfile(Family.SIS, "SIS database (mapped to OneRoster 1.2)", False, "oneroster"),
    # Canvas's REST API is published and documented for any client (and Canvas is open source).
    "canvas": SystemProfile(Family.LMS, "Canvas REST API", True, "canvas"),
    "oneroster_rest": SystemProfile(Family.LMS, "OneRoster 1.2 REST", True, "oneroster_rest"),
    "ob3_api": SystemProfile(Family.CREDENTIALS, "Open Badges 3.0", True, "ob3_api"),
    # Badgr's API v2 serves Open Badges 2.0 assertions, badge classes and issuers.
    "badgr": SystemProfile(Family.CREDENTIALS, "Open Badges 2.0", True, "badgr"),
    # Credly's own JSON; its badges are Open Badges 2.0 elsewhere, but not through this API.
    "credly": SystemProfile(Family.CREDENTIALS, "Credly API", False, "credly"),
    "badge_files": SystemProfile(Family.CREDENTIALS, "Open Badges {version}", True, "badge_files"),
}


def profile_of(kind: str) -> SystemProfile:
    """The declared profile of a config kind (KeyError names the kinds that have one)."""
    try:
        return SYSTEM_PROFILES[kind]
    except KeyError:
        raise KeyError(
            f"no interoperability profile for source kind {kind!r}; declare one in "
            f"SYSTEM_PROFILES (known: {', '.join(SYSTEM_PROFILES)})"
        ) from None


def standard_name(kind: str, versions: Sequence[str] = ()) -> str:
    """The standard a system speaks, e.g. `OneRoster 1.2`, `Open Badges 2.0 / 3.0`."""
    template = profile_of(kind).standard
    if "{version}" not in template:
        return template
    shown = " / ".join(sorted({v for v in versions if v})) or "(version unknown)"
    return template.format(version=shown)


@dataclass(frozen=True)
class SystemMeasures:
    """What was measured for one connected system tonight (counts and shares, no person).

    Shares are 0..1, or None where the measure does not apply: an SIS links to itself, an LMS
    API's records are kept as received rather than validated row by row, a system with no rows
    has no share."""

    system: str  # the source's name in pathways.yaml; `sis` for the SIS
    kind: str
    standard: str
    open_standard: bool
    is_sis: bool
    learners: int | None  # identities the system holds (accounts, credential recipients)
    learners_linked: int | None  # of those, linked to exactly one SIS user
    link_rate: float | None
    referential_integrity: float | None
    validation_pass_rate: float | None
    last_success_at: datetime | None
    fresh: bool
    sis_id_changes: int | None  # measured on the SIS's row


@dataclass(frozen=True)
class Assessment:
    """A system's verdict tonight and what a person should do about it ('' when it passes)."""

    status: Status
    findings: str


def is_fresh(last_success_at: datetime | None, now: datetime, freshness_hours: float) -> bool:
    """The last successful sync is within `freshness_hours` of `now` (never synced: stale)."""
    if last_success_at is None:
        return False
    return now - last_success_at <= timedelta(hours=freshness_hours)


def share_status(share: float | None, settings: InteroperabilitySettings) -> Status:
    """A share against the thresholds: below fail_below fails, below warn_below warns; a share
    that does not apply (None) passes."""
    if share is None:
        return Status.PASS
    if share < settings.link_fail_below:
        return Status.FAIL
    if share < settings.link_warn_below:
        return Status.WARN
    return Status.PASS


def assess_system(
    measures: SystemMeasures, settings: InteroperabilitySettings, now: datetime
) -> Assessment:
    """Judge one system: linkage, referential integrity and validation against the thresholds,
    freshness against `freshness_hours` (stale or never synced fails), and SIS ids that changed
    for the same person (a warning: each is a learner split in two downstream)."""
    found: list[tuple[Status, str]] = []
    m = measures
    if m.last_success_at is None:
        found.append(
            (
                Status.FAIL,
                f"{m.system} has never synced successfully; check its credentials and the run "
                "log of its pull",
            )
        )
    elif not m.fresh:
        hours = (now - m.last_success_at).total_seconds() / 3600
        found.append(
            (
                Status.FAIL,
                f"{m.system} last synced successfully {hours:,.0f} hours ago (limit "
                f"{settings.freshness_hours:g}); find why its nightly pull has not finished",
            )
        )
    status = share_status(m.link_rate, settings)
    if status is not Status.PASS and not m.is_sis:
        unlinked = (m.learners or 0) - (m.learners_linked or 0)
        found.append(
            (
                status,
                f"{_pct(m.link_rate)} of {m.system}'s {m.learners:,} identities link to a SIS "
                f"learner (below {_pct(_threshold(status, settings))}), {unlinked:,} unlinked: "
                f"have {m.system} carry the SIS sourcedId, or fix their emails / usernames "
                "(see core.learner_crosswalk)",
            )
        )
    status = share_status(m.referential_integrity, settings)
    if status is not Status.PASS:
        found.append(
            (
                status,
                f"{_pct(m.referential_integrity)} of {m.system}'s records reference only "
                f"things it holds (below {_pct(_threshold(status, settings))}); "
                + (
                    "see the reference rejects in audit.rejected_rows"
                    if m.is_sis
                    else "look for enrollments or credentials naming unknown courses, users or "
                    "achievements"
                ),
            )
        )
    status = share_status(m.validation_pass_rate, settings)
    if status is not Status.PASS:
        found.append(
            (
                status,
                f"{_pct(m.validation_pass_rate)} of {m.system}'s rows passed validation "
                f"(below {_pct(_threshold(status, settings))}); "
                + (
                    "fix the rejected rows (audit.rejected_rows) in the SIS"
                    if m.is_sis
                    else "see the failing records in core.credentials (verification_reason)"
                ),
            )
        )
    if m.sis_id_changes:
        found.append(
            (
                Status.WARN,
                f"{m.sis_id_changes:,} learner(s) got a new SIS sourcedId tonight while their "
                "state id, user ids, email or username match a sourcedId the SIS no longer "
                "sends: the same person twice downstream; ask the SIS to keep sourcedIds "
                "stable (see audit.learner_identities)",
            )
        )
    if not found:
        return Assessment(Status.PASS, "")
    worst = max((s for s, _ in found), key=_SEVERITY.__getitem__)
    return Assessment(worst, "; ".join(sentence for _, sentence in found) + ".")


def _threshold(status: Status, settings: InteroperabilitySettings) -> float:
    return settings.link_fail_below if status is Status.FAIL else settings.link_warn_below


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}"


@dataclass(frozen=True)
class IndicatorLevel:
    """Where the district stands on one indicator tonight, and the numbers behind it."""

    indicator_id: str
    level: Level
    evidence: str  # one readable sentence
    evidence_json: dict[str, Any] = field(default_factory=dict)


def interoperability_level(
    systems: Sequence[SystemMeasures],
    settings: InteroperabilitySettings,
    inventoried: Sequence[str] | None,
) -> IndicatorLevel:
    """The interoperable-infrastructure level.

    Starting: the systems are inventoried: `inventoried` names the connected systems the data
    inventory lists (None without an inventory: then pathways.yaml is the inventory).
    Practicing: some system besides the SIS is linked to it by an open standard (some of its
    identities link to SIS learners).
    Sustaining: every system, the SIS included, speaks an open standard and synced within
    `freshness_hours`, and every system besides the SIS links at least `link_warn_below` of its
    identities."""
    others = [s for s in systems if not s.is_sis]
    linked = [s.system for s in others if s.open_standard and (s.learners_linked or 0) > 0]
    short = {
        s.system: _shortfall(s, settings)
        for s in systems
        if _shortfall(s, settings)  # every system must meet the bar for Sustaining
    }
    if others and not short:
        level = Level.SUSTAINING
    elif linked:
        level = Level.PRACTICING
    else:
        level = Level.STARTING
    listed = (
        f"{len(inventoried)} of them in the data inventory"
        if inventoried is not None
        else "declared in pathways.yaml, no data inventory yet"
    )
    evidence = (
        f"{len(systems)} connected system(s) ({listed}); "
        f"{len(linked)} of {len(others)} besides the SIS linked by an open standard"
    )
    if short:
        evidence += "; short of Sustaining: " + ", ".join(
            f"{name} ({why})" for name, why in sorted(short.items())
        )
    elif others:
        evidence += (
            f"; every system speaks an open standard, links at least "
            f"{_pct(settings.link_warn_below)} and synced within "
            f"{settings.freshness_hours:g} hours"
        )
    return IndicatorLevel(
        INTEROPERABILITY_INDICATOR,
        level,
        evidence + ".",
        {
            "systems": len(systems),
            "inventoried": None if inventoried is None else sorted(inventoried),
            "linked_by_open_standard": sorted(linked),
            "short_of_sustaining": dict(sorted(short.items())),
            "link_warn_below": settings.link_warn_below,
            "freshness_hours": settings.freshness_hours,
        },
    )


def _shortfall(s: SystemMeasures, settings: InteroperabilitySettings) -> str:
    """Why one system keeps the district from Sustaining ('' if it does not)."""
    reasons = []
    if not s.open_standard:
        reasons.append(f"{s.standard} is not an open standard")
    if not s.is_sis and (s.link_rate is None or s.link_rate < settings.link_warn_below):
        reasons.append(f"links {_pct(s.link_rate)}")
    if not s.fresh:
        reasons.append("not synced nightly")
    return ", ".join(reasons)


@dataclass(frozen=True)
class InventoryState:
    """What tonight's data inventory and public notices say (None: the table does not exist)."""

    inventory_rows: int | None  # rows of marts.data_inventory tonight
    collected_undeclared: int = 0  # collected fields the inventory does not declare
    declared_incomplete: int = 0  # declared fields missing purpose, retention, …
    notices_published: int = 0  # public notices ever published
    notice_recent: bool = False  # one published within freshness_hours


def transparency_level(state: InventoryState) -> IndicatorLevel:
    """The data-collection-transparency level.

    Starting: the inventory exists (or nothing yet: Starting is the floor). Practicing: a public
    notice has been published before, but tonight's inventory has gaps. Sustaining: tonight every
    collected field is declared and every declared field complete, and a notice is current: one
    was published within `freshness_hours`, or tonight's inventory is complete, which is exactly
    what lets tonight's notice publish (the notice step is blocked on completeness, and this
    asset does not wait for it, so it is judged by the inventory it will publish)."""
    exists = bool(state.inventory_rows)
    complete = exists and state.collected_undeclared == 0 and state.declared_incomplete == 0
    if complete:
        # Complete tonight implies a current notice (see above), recent or not.
        level = Level.SUSTAINING
        evidence = (
            f"All {state.inventory_rows:,} inventoried fields are declared and complete, so the "
            "public notice is current" + ("" if state.notice_recent else " (it publishes tonight)")
        )
    elif exists and state.notices_published:
        level = Level.PRACTICING
        evidence = (
            f"A public notice has been published ({state.notices_published:,} so far) but "
            f"tonight's inventory has gaps: {state.collected_undeclared:,} collected field(s) "
            f"undeclared, {state.declared_incomplete:,} declared field(s) incomplete"
        )
    elif exists:
        level = Level.STARTING
        evidence = (
            f"The data inventory lists {state.inventory_rows:,} fields, with "
            f"{state.collected_undeclared:,} collected field(s) undeclared and "
            f"{state.declared_incomplete:,} declared field(s) incomplete; no public notice yet"
        )
    else:
        level = Level.STARTING
        evidence = "No data inventory yet (marts.data_inventory is missing or empty)"
    return IndicatorLevel(TRANSPARENCY_INDICATOR, level, evidence + ".", asdict(state))
