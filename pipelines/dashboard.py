"""The readiness dashboard: one self-contained HTML page written each night for district leaders.

Where the district stands on each category and indicator of the District Readiness Framework and
why (measured evidence, self-assessment, the framework's statement of each level), how the
learners furthest from opportunity are faring (the equity marts, small cells shown only as a
mark), how levels moved over the nights, and how well each connected system interoperates.

Reading and rendering are apart: `read_dashboard_data` runs read-only queries over the marts into
plain Python (`DashboardData`), and `render_dashboard` turns that into HTML with no I/O, so the
page can be tested on hand-made data. The page needs nothing beyond its own file: CSS inline,
charts as inline SVG drawn here, no script, no font, no image, no external URL, so it works
offline, from a file share, and on paper. Templating is the standard library's `html.escape`
through one helper (`_e`); every value from the warehouse passes through it.

Privacy: the marts hold aggregates only, and the page shows nothing of a suppressed cell but the
mark "—": never its size, count, rate or gap, even when a mart row carries one.
"""

import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape
from pathlib import Path
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

from models.config import PathwaysConfig
from models.readiness import Category, Framework, Indicator, Level, load_framework
from pipelines.warehouse import WAREHOUSE_POOL, WarehouseResource

DASHBOARD_KEY = dg.AssetKey(["outputs", "readiness_dashboard"])

# The marts the dashboard renders, in the order of its sections; any may be absent in a district.
READINESS_INDICATORS = "readiness_indicators"
READINESS_CATEGORIES = "readiness_categories"
READINESS_HISTORY = "readiness_history"
EQUITY_METRICS = "equity_metrics"
INTEROPERABILITY_SCORECARD = "interoperability_scorecard"
DASHBOARD_MARTS = (
    READINESS_INDICATORS,
    READINESS_CATEGORIES,
    READINESS_HISTORY,
    EQUITY_METRICS,
    INTEROPERABILITY_SCORECARD,
)
DASHBOARD_SOURCE_KEYS = frozenset(dg.AssetKey(["marts", name]) for name in DASHBOARD_MARTS)

# Night pages kept beside index.html; older ones are removed when a night is written.
KEEP_NIGHTS = 30
# Nights a trend chart reaches back.
TREND_NIGHTS = 30

SUPPRESSED_MARK = "—"
BLANK_STATEMENT = "The framework leaves this level blank."
NOT_ASSESSED = "Not assessed"

_NIGHT_PAGE = re.compile(r"^\d{4}-\d{2}-\d{2}\.html$")

# --- palette ----------------------------------------------------------------------------------

# Every colour of the page. Text is always dark on a light ground; the tests compute the WCAG
# contrast of each pair in TEXT_PAIRS (>= 4.5:1) and GRAPHIC_PAIRS (>= 3:1, WCAG 1.4.11).
PALETTE = {
    "page": "#ffffff",
    "panel": "#f3f5f7",
    "text": "#1b1f24",
    "muted": "#4a5561",
    "link": "#0a58a8",
    "rule": "#8a96a3",
    "starting": "#fde4c4",
    "practicing": "#d4e8f9",
    "sustaining": "#d2f0da",
    "not_assessed": "#e6e6e6",
    "pass": "#d2f0da",
    "warn": "#fde4c4",
    "fail": "#f8d2d2",
    "flag": "#8c1d18",
    "bar": "#2b6cb0",
    "bar_school": "#5b4a9e",
    "reference": "#1b1f24",
}
TEXT_PAIRS = (
    ("text", "page"),
    ("text", "panel"),
    ("muted", "page"),
    ("muted", "panel"),
    ("link", "page"),
    ("link", "panel"),
    ("flag", "page"),
    ("flag", "panel"),
    ("text", "starting"),
    ("text", "practicing"),
    ("text", "sustaining"),
    ("text", "not_assessed"),
    ("text", "pass"),
    ("text", "warn"),
    ("text", "fail"),
)
GRAPHIC_PAIRS = (
    ("bar", "page"),
    ("bar_school", "page"),
    ("reference", "page"),
    ("rule", "page"),
    ("text", "page"),
)


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of a `#rrggbb` colour, 0 (black) to 1 (white)."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    """WCAG 2.x contrast ratio of two `#rrggbb` colours, 1 to 21."""
    lighter, darker = sorted(
        (relative_luminance(foreground), relative_luminance(background)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


# --- the data the page shows ------------------------------------------------------------------

Row = Mapping[str, Any]


@dataclass(frozen=True)
class DashboardData:
    """Everything one night's page shows. A mart's rows are None when the district's warehouse
    has no such table (a section then says "not available"), and empty when it has no rows."""

    district_name: str
    night: date
    framework: Framework
    min_group_size: int = 10
    indicators: Sequence[Row] | None = None  # marts.readiness_indicators, tonight
    categories: Sequence[Row] | None = None  # marts.readiness_categories, last TREND_NIGHTS
    history: Sequence[Row] | None = None  # marts.readiness_history, last TREND_NIGHTS
    equity: Sequence[Row] | None = None  # marts.equity_metrics, tonight
    scorecard: Sequence[Row] | None = None  # marts.interoperability_scorecard, tonight
    earlier_nights: Sequence[str] = field(default_factory=tuple)  # pages kept, e.g. 2026-11-24

    @property
    def sections(self) -> dict[str, bool]:
        """Each section of the page and whether its mart was there to render it."""
        return {
            "categories": self.categories is not None,
            "indicators": self.indicators is not None,
            "equity": self.equity is not None,
            "trends": self.history is not None or self.categories is not None,
            "scorecard": self.scorecard is not None,
        }


def read_dashboard_data(
    con: duckdb.DuckDBPyConnection,
    framework: Framework,
    district_name: str,
    night: date,
    min_group_size: int = 10,
    earlier_nights: Sequence[str] = (),
) -> DashboardData:
    """Read the marts the page shows (read-only queries): tonight's rows of each, and the last
    TREND_NIGHTS nights of the level history. A mart the warehouse does not have reads as None."""
    present = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database() AND table_schema = 'marts'"
        ).fetchall()
    }

    def latest(table: str, order: str) -> list[dict[str, Any]] | None:
        if table not in present:
            return None
        return _rows(
            con,
            f"SELECT * FROM marts.{table} WHERE night = (SELECT max(night) FROM marts.{table} "
            f"WHERE night <= $night) ORDER BY {order}",
            {"night": night},
        )

    def recent(table: str, order: str) -> list[dict[str, Any]] | None:
        if table not in present:
            return None
        return _rows(
            con,
            f"SELECT * FROM marts.{table} WHERE night IN (SELECT DISTINCT night "
            f"FROM marts.{table} WHERE night <= $night ORDER BY night DESC LIMIT $n) "
            f"ORDER BY night, {order}",
            {"night": night, "n": TREND_NIGHTS},
        )

    return DashboardData(
        district_name=district_name,
        night=night,
        framework=framework,
        min_group_size=min_group_size,
        indicators=latest(READINESS_INDICATORS, "category_id, indicator_id"),
        categories=recent(READINESS_CATEGORIES, "category_id"),
        history=recent(READINESS_HISTORY, "category_id, indicator_id"),
        equity=latest(EQUITY_METRICS, "metric, school_name NULLS FIRST, dimension, group_value"),
        scorecard=latest(INTEROPERABILITY_SCORECARD, "system"),
        earlier_nights=tuple(earlier_nights),
    )


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any]) -> list[dict]:
    # The table names above are our own constants; values are bound, never interpolated.
    result = con.execute(sql, dict(params))
    names = [d[0] for d in result.description]
    return [dict(zip(names, values, strict=True)) for values in result.fetchall()]


# --- rendering --------------------------------------------------------------------------------


def _e(value: Any) -> str:
    """Any value as HTML-escaped text (quotes too, so it is safe in an attribute)."""
    return escape("" if value is None else str(value), quote=True)


def _slug(value: Any) -> str:
    """A fragment id made from one of our own ids: letters, digits and hyphens only."""
    return re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-") or "x"


_LEVEL_RANK = {level.value: rank for rank, level in enumerate(Level, start=1)}
_LEVEL_CLASS = {level.value: level.key for level in Level}


def level_icon(level: str | None) -> str:
    """Three ascending steps, as many filled as the level's rank (none when not assessed), so
    the level reads from the shape as well as the word, never from colour alone."""
    rank = _LEVEL_RANK.get(level or "", 0)
    steps = []
    for i in range(3):
        height = 5 + 4 * i
        filled = i < rank
        fill = PALETTE["text"] if filled else "none"
        dashes = "" if rank else ' stroke-dasharray="1.5 1.5"'
        steps.append(
            f'<rect x="{1 + 5 * i}" y="{15 - height}" width="4" height="{height}" '
            f'fill="{fill}" stroke="{PALETTE["text"]}" stroke-width="1"{dashes}/>'
        )
    return (
        '<svg class="icon" width="16" height="16" viewBox="0 0 16 16" aria-hidden="true" '
        f'focusable="false">{"".join(steps)}</svg>'
    )


def level_badge(level: str | None, label: str | None = None) -> str:
    """A level as a word, its step icon and its tint; `label` says which level it is."""
    text = level if level else NOT_ASSESSED
    css = _LEVEL_CLASS.get(level or "", "not_assessed")
    prefix = f'<span class="badge-label">{_e(label)}:</span> ' if label else ""
    return (
        f'<span class="level level-{css}">{prefix}{level_icon(level)}'
        f'<span class="level-text">{_e(text)}</span></span>'
    )


_STATUS_ICON = {"pass": "✓", "warn": "!", "fail": "✗"}


def status_badge(status: str | None) -> str:
    """A scorecard status as a symbol and a word on its tint."""
    key = status if status in _STATUS_ICON else "warn"
    return (
        f'<span class="status status-{key}"><span aria-hidden="true">'
        f"{_STATUS_ICON.get(status or '', '?')}</span> {_e(status or 'unknown')}</span>"
    )


def _percent(value: float | None, digits: int = 0) -> str:
    return SUPPRESSED_MARK if value is None else f"{value * 100:.{digits}f}%"


def _points(value: float | None) -> str:
    """A gap in percentage points, signed (a true minus sign, read aloud as "minus")."""
    if value is None:
        return SUPPRESSED_MARK
    points = value * 100
    sign = "+" if points > 0.05 else ("−" if points < -0.05 else "±")
    return f"{sign}{abs(points):.1f} pts"


def _count(value: int | None) -> str:
    return SUPPRESSED_MARK if value is None else f"{value:,}"


def _not_available(what: str, why: str) -> str:
    return f'<p class="not-available"><strong>Not available:</strong> {_e(what)} {_e(why)}</p>'


def render_dashboard(data: DashboardData) -> str:
    """The whole page for one night, as a self-contained HTML document."""
    title = f"Readiness dashboard · {data.district_name} · {data.night.isoformat()}"
    sections = [
        _categories_section(data),
        _indicators_section(data),
        _equity_section(data),
        _trends_section(data),
        _scorecard_section(data),
    ]
    nav = "".join(
        f'<li><a href="#{anchor}">{_e(name)}</a></li>'
        for anchor, name in (
            ("categories", "Categories"),
            ("indicators", "Indicators"),
            ("equity", "Equity"),
            ("trends", "Trends"),
            ("scorecard", "Interoperability"),
        )
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_css()}</style>\n</head>\n<body>\n"
        '<a class="skip" href="#main">Skip to the dashboard</a>\n'
        f"<header>\n<h1>Readiness dashboard: {_e(data.district_name)}</h1>\n"
        f'<p class="lede">Night of <time datetime="{_e(data.night.isoformat())}">'
        f"{_e(data.night.isoformat())}</time>. Where the district stands on the "
        f"{_e(data.framework.name)}, why, and how the learners furthest from opportunity are "
        "faring. Aggregates only: no learner is named or counted alone.</p>\n"
        f'<nav aria-label="Sections"><ul>{nav}</ul></nav>\n</header>\n'
        f'<main id="main">\n{"".join(sections)}</main>\n{_footer(data)}</body>\n</html>\n'
    )


def _level_key() -> str:
    items = "".join(f"<li>{level_badge(level.value)}</li>" for level in Level)
    return (
        '<div class="key"><p class="key-title">How levels are shown</p>'
        f'<ul class="inline">{items}<li>{level_badge(None)}</li></ul>'
        "<p>Filled steps count the level (one Starting, two Practicing, three Sustaining); "
        "dashed empty steps mean the indicator has not been assessed.</p></div>"
    )


def _categories_section(data: DashboardData) -> str:
    head = (
        '<section id="categories" aria-labelledby="categories-h">\n'
        '<h2 id="categories-h">The seven categories at a glance</h2>\n'
    )
    if data.categories is None:
        note = _not_available(
            "category levels.", "This warehouse has no marts.readiness_categories table."
        )
    elif not data.categories:
        note = _not_available("category levels.", "marts.readiness_categories has no rows yet.")
    else:
        note = ""
    latest = _latest_by(data.categories or (), "category_id")
    cards = []
    for category in data.framework.categories:
        row = latest.get(category.id)
        if row is None:
            body = "<p>Level not available.</p>"
        else:
            body = (
                f'<p class="card-level">{level_badge(row.get("level"), "Level")}</p>'
                f"<p>{_e(row.get('indicators_assessed'))} of {_e(row.get('indicators_total'))} "
                "indicators assessed.</p>"
                f'<p class="rule">{_e(row.get("rule"))}</p>'
            )
        cards.append(
            f'<li class="card"><h3 id="glance-{_slug(category.id)}">{_e(category.name)}</h3>'
            f'{body}<p><a href="#cat-{_slug(category.id)}">Its indicators</a></p></li>'
        )
    return f'{head}{note}{_level_key()}<ul class="cards">{"".join(cards)}</ul>\n</section>\n'


def _latest_by(rows: Iterable[Row], key: str) -> dict[Any, Row]:
    """The row of the latest night for each value of `key`."""
    latest: dict[Any, Row] = {}
    for row in rows:
        current = latest.get(row.get(key))
        if current is None or (row.get("night") or date.min) >= (current.get("night") or date.min):
            latest[row.get(key)] = row
    return latest


def _indicators_section(data: DashboardData) -> str:
    parts = [
        '<section id="indicators" aria-labelledby="indicators-h">\n'
        '<h2 id="indicators-h">Indicators: evidence and level statements</h2>\n'
    ]
    if data.indicators is None:
        parts.append(
            _not_available(
                "measured and self-assessed levels.",
                "This warehouse has no marts.readiness_indicators table; the framework's "
                "statements are shown.",
            )
        )
    rows = {row.get("indicator_id"): row for row in data.indicators or ()}
    for category in data.framework.categories:
        parts.append(
            f'<section class="category" aria-labelledby="cat-{_slug(category.id)}">'
            f'<h3 id="cat-{_slug(category.id)}">{_e(category.name)}</h3>'
        )
        if category.description:
            parts.append(f'<p class="muted">{_e(category.description)}</p>')
        for indicator in category.indicators:
            parts.append(_indicator_article(indicator, rows.pop(indicator.id, None), data))
        parts.append("</section>\n")
    if rows:
        # Indicators a mart scores that this framework file does not know: shown, not hidden.
        parts.append(
            '<section class="category"><h3 id="cat-other">Indicators not in the framework</h3>'
        )
        for indicator_id, row in rows.items():
            parts.append(_indicator_article(None, row, data, fallback_id=indicator_id))
        parts.append("</section>\n")
    parts.append("</section>\n")
    return "".join(parts)


def _indicator_article(
    indicator: Indicator | None,
    row: Row | None,
    data: DashboardData,
    fallback_id: str | None = None,
) -> str:
    indicator_id = indicator.id if indicator else fallback_id
    name = indicator.name if indicator else (row or {}).get("indicator") or indicator_id
    anchor = f"ind-{_slug(indicator_id)}"
    out = [f'<article class="indicator" aria-labelledby="{anchor}">']
    out.append(f'<h4 id="{anchor}">{_e(name)}</h4>')
    final_level = None
    if row is None:
        out.append(
            f"<p>{level_badge(None, 'Final level')}</p>"
            if data.indicators is not None
            else "<p>Level not available.</p>"
        )
    else:
        final_level = row.get("final_level")
        status = row.get("status") or ("assessed" if final_level else "not assessed")
        out.append(
            f'<p class="levels">{level_badge(final_level, "Final level")} '
            f'<span class="muted">({_e(status)})</span></p>'
        )
        if row.get("final_statement"):
            out.append(f'<p class="statement">{_e(row.get("final_statement"))}</p>')
        out.append(_flags(row.get("flags")))
        out.append('<dl class="evidence">')
        out.append(
            f"<dt>Measured</dt><dd>{level_badge(row.get('measured_level'))}"
            f"{_evidence_text(row.get('measured_evidence'))}"
            f"{_evidence_numbers(row.get('measured_evidence_json'))}</dd>"
        )
        out.append(f"<dt>Self-assessed</dt><dd>{_self_assessment(row)}</dd>")
        out.append("</dl>")
    if indicator is not None:
        out.append(_statements(indicator, final_level))
    out.append("</article>\n")
    return "".join(out)


_FLAG_TEXT = {
    "self_assessment_above_measured": "The self-assessment is above what the data shows.",
}


def _flags(flags: Sequence[str] | None) -> str:
    if not flags:
        return ""
    items = "".join(
        f'<li><span aria-hidden="true">⚑</span> {_e(_FLAG_TEXT.get(flag, flag.replace("_", " ")))}'
        "</li>"
        for flag in flags
    )
    return f'<ul class="flags" aria-label="Flags">{items}</ul>'


def _evidence_text(text: str | None) -> str:
    if not text:
        return '<p class="muted">No measured evidence: no rule over the data for this one.</p>'
    return f"<p>{_e(text)}</p>"


def _evidence_numbers(value: Any) -> str:
    """The numbers behind a measured level (the mart's evidence JSON: measures, thresholds),
    folded away as nested name/value lists."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return f"<p>{_e(value)}</p>"
    if not value:
        return ""
    return (
        '<details class="numbers"><summary>The numbers behind this level</summary>'
        f"{_nested(value)}</details>"
    )


def _nested(value: Any) -> str:
    if isinstance(value, Mapping):
        items = "".join(
            f"<dt>{_e(str(key).replace('_', ' '))}</dt><dd>{_nested(item)}</dd>"
            for key, item in value.items()
        )
        return f"<dl>{items}</dl>"
    if isinstance(value, list):
        return ", ".join(_nested(item) for item in value)
    if isinstance(value, float):
        return _e(f"{value:g}")
    return _e(value)


def _self_assessment(row: Row) -> str:
    level = row.get("self_assessed_level")
    if not level and not row.get("self_assessment_note"):
        return '<span class="muted">None filed.</span>'
    who = row.get("self_assessed_by")
    when = row.get("self_assessed_on")
    by = ""
    if who or when:
        by = (
            '<p class="muted">Assessed'
            + (f" by {_e(who)}" if who else "")
            + (f" on {_e(when)}" if when else "")
            + ".</p>"
        )
    note = (
        f"<p>{_e(row.get('self_assessment_note'))}</p>" if row.get("self_assessment_note") else ""
    )
    return f"{level_badge(level)}{note}{by}"


def _statements(indicator: Indicator, final_level: str | None) -> str:
    rows = []
    for level in Level:
        statement = indicator.statement(level)
        here = level.value == final_level
        text = _e(statement) if statement else f'<em class="muted">{_e(BLANK_STATEMENT)}</em>'
        marker = ' <strong class="here">(the district is here)</strong>' if here else ""
        rows.append(
            f'<tr{" class=here" if here else ""}><th scope="row">{level_badge(level.value)}'
            f"{marker}</th><td>{text}</td></tr>"
        )
    return (
        '<details class="statements"><summary>What each level looks like</summary>'
        f'<table><caption class="visually-hidden">Level statements for {_e(indicator.name)}'
        '</caption><thead><tr><th scope="col">Level</th><th scope="col">Statement</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table></details>"
    )


# --- equity -----------------------------------------------------------------------------------

_DIMENSIONS = {
    "all": "All learners",
    "economically_disadvantaged": "Economically disadvantaged",
    "english_learner": "English learners",
    "disability": "Learners with disabilities",
    "race_ethnicity": "Race/ethnicity",
    "sex": "Sex",
}
_DIMENSION_ORDER = {name: i for i, name in enumerate(_DIMENSIONS)}


# OneRoster's demographics columns, which the race/ethnicity groups are named after.
_RACE_ETHNICITY = {
    "americanIndianOrAlaskaNative": "American Indian or Alaska Native",
    "asian": "Asian",
    "blackOrAfricanAmerican": "Black or African American",
    "nativeHawaiianOrOtherPacificIslander": "Native Hawaiian or Other Pacific Islander",
    "white": "White",
    "demographicRaceTwoOrMoreRaces": "Two or more races",
    "hispanicOrLatinoEthnicity": "Hispanic or Latino",
}


def _group_label(row: Row) -> str:
    """A group as a reader names it, e.g. "Race/ethnicity: Black or African American"."""
    dimension = row.get("dimension") or ""
    group = row.get("group_value")
    if dimension == "all":
        return "All learners"
    name = _DIMENSIONS.get(dimension, str(dimension).replace("_", " ").capitalize())
    if group in (None, ""):
        return name
    if dimension == "race_ethnicity":
        group = _RACE_ETHNICITY.get(str(group), group)
    return f"{name}: {group}"


@dataclass(frozen=True)
class _Cell:
    """One group's numbers as the page may show them: None where hidden."""

    label: str
    reference: bool  # the group every gap is measured against (all learners)
    learners: int | None
    meeting: int | None
    rate: float | None
    rate_text: str
    gap: float | None
    suppressed: bool


def _cell(row: Row, label: str, reference: bool = False) -> _Cell:
    if row.get("suppressed"):
        # Never a number for a suppressed group, whatever the row carries.
        return _Cell(label, reference, None, None, None, SUPPRESSED_MARK, None, True)
    rate = row.get("rate")
    if rate is not None:
        rate_text = _percent(rate, 1)
    elif row.get("rate_range"):
        rate_text = str(row.get("rate_range"))
    else:
        rate_text = SUPPRESSED_MARK
    return _Cell(
        label,
        reference,
        row.get("learners"),
        row.get("learners_meeting"),
        rate,
        rate_text,
        row.get("gap_to_all"),
        False,
    )


def _equity_section(data: DashboardData) -> str:
    parts = [
        '<section id="equity" aria-labelledby="equity-h">\n'
        '<h2 id="equity-h">Equity: the learners furthest from opportunity</h2>\n'
    ]
    if data.equity is None:
        parts.append(
            _not_available("the equity view.", "This warehouse has no marts.equity_metrics table.")
        )
        return "".join(parts) + "</section>\n"
    if not data.equity:
        parts.append(_not_available("the equity view.", "marts.equity_metrics has no rows yet."))
        return "".join(parts) + "</section>\n"
    parts.append(_suppression_legend(data.min_group_size))
    metrics: dict[str, list[Row]] = {}
    for row in data.equity:
        metrics.setdefault(row.get("metric"), []).append(row)
    for metric, rows in metrics.items():
        label = rows[0].get("metric_label") or metric
        anchor = f"metric-{_slug(metric)}"
        parts.append(
            f'<section class="metric" aria-labelledby="{anchor}"><h3 id="{anchor}">{_e(label)}</h3>'
        )
        district = sorted(
            (r for r in rows if r.get("school_id") is None),
            key=lambda r: (_DIMENSION_ORDER.get(r.get("dimension"), 99), str(r.get("group_value"))),
        )
        schools = [r for r in rows if r.get("school_id") is not None]
        if district:
            cells = [_cell(r, _group_label(r), r.get("dimension") == "all") for r in district]
            reference = next(
                (
                    c.rate
                    for r, c in zip(district, cells, strict=True)
                    if r.get("dimension") == "all"
                ),
                None,
            )
            parts.append(
                _bar_chart(
                    f"{label}: district, by group",
                    cells,
                    reference,
                    f"{anchor}-district",
                    PALETTE["bar"],
                )
            )
        school_all = [r for r in schools if r.get("dimension") == "all"]
        if school_all:
            cells = [_cell(r, str(r.get("school_name") or r.get("school_id"))) for r in school_all]
            district_all = next((r for r in district if r.get("dimension") == "all"), None)
            reference = _cell(district_all, "").rate if district_all else None
            parts.append(
                _bar_chart(
                    f"{label}: all learners, by school",
                    cells,
                    reference,
                    f"{anchor}-schools",
                    PALETTE["bar_school"],
                    reference_label="District",
                    gap_header="Gap to the district's all learners",
                )
            )
        groups_in_schools = [r for r in schools if r.get("dimension") != "all"]
        if groups_in_schools:
            parts.append(_school_group_table(label, groups_in_schools))
        parts.append("</section>\n")
    parts.append("</section>\n")
    return "".join(parts)


def _suppression_legend(min_group_size: int) -> str:
    return (
        '<div class="key" id="suppression-key"><p class="key-title">Reading the equity charts</p>'
        f'<ul><li><span class="mark">{SUPPRESSED_MARK}</span> suppressed: a group of fewer than '
        f"{int(min_group_size)} learners, or a number hidden so that it cannot be worked out "
        "from the totals and the other groups. Nothing of it is shown.</li>"
        "<li>A rate shown as a range (such as “&lt;= 5%”) is near 0% or 100%: the exact "
        "value would tell how many learners did or did not meet the measure.</li>"
        '<li><svg width="24" height="12" aria-hidden="true" focusable="false">'
        f'<line x1="12" y1="0" x2="12" y2="12" stroke="{PALETTE["reference"]}" '
        'stroke-width="2" stroke-dasharray="3 2"/></svg> the dashed line is the rate of all '
        "learners; the label beside each bar is the group's rate and its gap to all learners in "
        "percentage points.</li></ul></div>"
    )


def _bar_chart(
    title: str,
    cells: Sequence[_Cell],
    reference: float | None,
    anchor: str,
    colour: str,
    reference_label: str = "All learners",
    gap_header: str = "Gap to all learners",
) -> str:
    """Horizontal bars of each group's rate, the reference rate as a dashed line, the rate and
    gap written beside each bar, and a suppressed group as the mark with no bar."""
    # Labels are right-aligned against the bars; about 7.5 px a character at 13 px.
    longest = max((len(c.label) for c in cells), default=10)
    label_width = int(min(420, max(140, 7.5 * longest + 16)))
    plot_width, value_width, row_height, top = 300, 170, 24, 26
    width = label_width + plot_width + value_width
    height = top + row_height * len(cells) + 8
    shapes = [
        f'<text x="{label_width}" y="14" class="axis">0%</text>'
        f'<text x="{label_width + plot_width}" y="14" class="axis" text-anchor="end">100%</text>'
    ]
    descriptions = []
    for i, cell in enumerate(cells):
        y = top + i * row_height
        shapes.append(
            f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end">{_e(cell.label)}</text>'
        )
        if cell.rate is not None:
            bar = max(0.0, min(1.0, cell.rate)) * plot_width
            shapes.append(
                f'<rect x="{label_width}" y="{y + 4}" width="{bar:.1f}" height="16" '
                f'fill="{colour}"/>'
            )
        value = cell.rate_text
        if cell.reference:
            value = f"{cell.rate_text} (reference)"
        elif cell.rate is not None and cell.gap is not None:
            value = f"{cell.rate_text} ({_points(cell.gap)})"
        elif cell.suppressed:
            value = f"{SUPPRESSED_MARK} suppressed"
        shapes.append(f'<text x="{label_width + plot_width + 8}" y="{y + 16}">{_e(value)}</text>')
        descriptions.append(f"{cell.label}: {value}")
    if reference is not None:
        x = label_width + max(0.0, min(1.0, reference)) * plot_width
        shapes.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 4}" '
            f'stroke="{PALETTE["reference"]}" stroke-width="2" stroke-dasharray="4 3"/>'
        )
    desc = (
        f"{reference_label} rate {_percent(reference, 1)}. " if reference is not None else ""
    ) + "; ".join(descriptions)
    svg = (
        f'<svg role="img" aria-labelledby="{anchor}-t {anchor}-d" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" class="chart">'
        f'<title id="{anchor}-t">{_e(title)}</title><desc id="{anchor}-d">{_e(desc)}</desc>'
        f"{''.join(shapes)}</svg>"
    )
    rows = "".join(
        f'<tr><th scope="row">{_e(c.label)}</th><td>{_count(c.learners)}</td>'
        f"<td>{_count(c.meeting)}</td><td>{_e(c.rate_text)}</td>"
        f"<td>{'reference' if c.reference else _points(c.gap)}</td></tr>"
        for c in cells
    )
    table = (
        f'<details class="data"><summary>The numbers behind “{_e(title)}”</summary>'
        f'<table><caption>{_e(title)}</caption><thead><tr><th scope="col">Group</th>'
        '<th scope="col">Learners</th><th scope="col">Meeting the measure</th>'
        f'<th scope="col">Rate</th><th scope="col">{_e(gap_header)}</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></details>"
    )
    return f"<figure>{svg}<figcaption>{_e(title)}</figcaption>{table}</figure>"


def _school_group_table(label: str, rows: Sequence[Row]) -> str:
    ordered = sorted(
        rows,
        key=lambda r: (
            str(r.get("school_name") or r.get("school_id")),
            _DIMENSION_ORDER.get(r.get("dimension"), 99),
            str(r.get("group_value")),
        ),
    )
    body = []
    for row in ordered:
        c = _cell(row, _group_label(row))
        body.append(
            f'<tr><th scope="row">{_e(row.get("school_name") or row.get("school_id"))}</th>'
            f"<td>{_e(c.label)}</td><td>{_count(c.learners)}</td><td>{_count(c.meeting)}</td>"
            f"<td>{_e(c.rate_text)}</td><td>{_points(c.gap)}</td></tr>"
        )
    return (
        f'<details class="data"><summary>{_e(label)}: each school\'s groups</summary>'
        f"<table><caption>{_e(label)} by school and group</caption><thead><tr>"
        '<th scope="col">School</th><th scope="col">Group</th><th scope="col">Learners</th>'
        '<th scope="col">Meeting the measure</th><th scope="col">Rate</th>'
        '<th scope="col">Gap to the school\'s all learners</th></tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></details>"
    )


# --- trends -----------------------------------------------------------------------------------


def _trends_section(data: DashboardData) -> str:
    parts = [
        '<section id="trends" aria-labelledby="trends-h">\n'
        '<h2 id="trends-h">Trends over nights</h2>\n'
    ]
    if data.categories is None and data.history is None:
        parts.append(
            _not_available(
                "trends.",
                "This warehouse has no marts.readiness_history or marts.readiness_categories.",
            )
        )
        return "".join(parts) + "</section>\n"
    parts.append('<h3 id="trends-categories">Category levels</h3>')
    if data.categories is None:
        parts.append(_not_available("category trends.", "No marts.readiness_categories table."))
    else:
        nights = sorted({r.get("night") for r in data.categories if r.get("night")})
        if len(nights) < 2:
            parts.append(
                '<p class="muted">One night so far: the lines start from the second night.</p>'
            )
        figures = []
        for category in data.framework.categories:
            series = {
                r.get("night"): r.get("level")
                for r in data.categories
                if r.get("category_id") == category.id
            }
            figures.append(
                f"<li><figure>{_sparkline(category.name, nights, series, 'cat-' + category.id)}"
                f"<figcaption>{_e(category.name)}</figcaption></figure></li>"
            )
        parts.append(f'<ul class="multiples">{"".join(figures)}</ul>')
        parts.append(
            _trend_table("Category levels by night", nights, data.framework, data.categories)
        )
    parts.append('<h3 id="trends-indicators">Indicator levels</h3>')
    if data.history is None:
        parts.append(_not_available("indicator trends.", "No marts.readiness_history table."))
    else:
        nights = sorted({r.get("night") for r in data.history if r.get("night")})
        for category in data.framework.categories:
            items = []
            for indicator in category.indicators:
                series = {
                    r.get("night"): r.get("final_level")
                    for r in data.history
                    if r.get("indicator_id") == indicator.id
                }
                items.append(
                    f'<tr><th scope="row">{_e(indicator.name)}</th><td>'
                    f"{_sparkline(indicator.name, nights, series, 'ind-' + indicator.id)}</td>"
                    f"<td>{level_badge(series.get(nights[-1]) if nights else None)}</td></tr>"
                )
            parts.append(
                f'<details class="data"><summary>{_e(category.name)}: indicator levels by '
                f"night</summary><table><caption>{_e(category.name)}: final level of each "
                'indicator over the nights</caption><thead><tr><th scope="col">Indicator</th>'
                '<th scope="col">Trend</th><th scope="col">Tonight</th></tr></thead>'
                f"<tbody>{''.join(items)}</tbody></table>"
                f"{_history_table(category, nights, data.history)}</details>"
            )
    return "".join(parts) + "</section>\n"


def _sparkline(name: str, nights: Sequence[date], series: Mapping[Any, str | None], key: str):
    """A small line of a level over the nights: up is a higher level, the bottom row is
    "not assessed", each night a dot whose shape repeats the level."""
    width, height, left, top = 220, 74, 70, 8
    step = (width - left - 10) / max(1, len(nights) - 1)
    rank_y = {r: top + (3 - r) * 18 for r in range(4)}
    shapes = [
        f'<text x="{left - 6}" y="{rank_y[r] + 4}" text-anchor="end" class="axis">{label}</text>'
        f'<line x1="{left}" y1="{rank_y[r]}" x2="{width - 10}" y2="{rank_y[r]}" '
        f'stroke="{PALETTE["rule"]}" stroke-width="0.5"/>'
        for r, label in ((3, "Sustaining"), (2, "Practicing"), (1, "Starting"), (0, "none"))
    ]
    points = []
    for i, night in enumerate(nights):
        rank = _LEVEL_RANK.get(series.get(night) or "", 0)
        x = left + (i * step if len(nights) > 1 else (width - left - 10) / 2)
        points.append((x, rank_y[rank], rank))
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y}" for x, y, _ in points)
        shapes.append(
            f'<polyline points="{path}" fill="none" stroke="{PALETTE["text"]}" stroke-width="1.5"/>'
        )
    for x, y, rank in points:
        if rank == 0:
            shapes.append(
                f'<circle cx="{x:.1f}" cy="{y}" r="3" fill="{PALETTE["page"]}" '
                f'stroke="{PALETTE["text"]}"/>'
            )
        else:
            shapes.append(f'<circle cx="{x:.1f}" cy="{y}" r="3.5" fill="{PALETTE["text"]}"/>')
    said = "; ".join(
        f"{night.isoformat()}: {series.get(night) or NOT_ASSESSED}" for night in nights
    )
    anchor = f"spark-{_slug(key)}"
    return (
        f'<svg role="img" aria-labelledby="{anchor}-t {anchor}-d" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" class="spark">'
        f'<title id="{anchor}-t">{_e(name)}: level by night</title>'
        f'<desc id="{anchor}-d">{_e(said or "No nights yet.")}</desc>{"".join(shapes)}</svg>'
    )


def _trend_table(
    caption: str, nights: Sequence[date], framework: Framework, rows: Sequence[Row]
) -> str:
    levels = {(r.get("category_id"), r.get("night")): r.get("level") for r in rows}
    head = "".join(f'<th scope="col">{_e(c.name)}</th>' for c in framework.categories)
    body = "".join(
        f'<tr><th scope="row">{_e(night.isoformat())}</th>'
        + "".join(
            f"<td>{_e(levels.get((c.id, night)) or NOT_ASSESSED)}</td>"
            for c in framework.categories
        )
        + "</tr>"
        for night in nights
    )
    return (
        f'<details class="data"><summary>{_e(caption)}: the table</summary><div class="scroll">'
        f'<table><caption>{_e(caption)}</caption><thead><tr><th scope="col">Night</th>{head}'
        f"</tr></thead><tbody>{body}</tbody></table></div></details>"
    )


def _history_table(category: Category, nights: Sequence[date], history: Sequence[Row]) -> str:
    levels = {(r.get("indicator_id"), r.get("night")): r for r in history}
    head = "".join(f'<th scope="col">{_e(i.name)}</th>' for i in category.indicators)
    body = []
    for night in nights:
        cells = []
        for indicator in category.indicators:
            row = levels.get((indicator.id, night)) or {}
            cells.append(
                f"<td>{_e(row.get('final_level') or NOT_ASSESSED)}"
                f'<span class="muted"> (measured {_e(row.get("measured_level") or "none")}, '
                f"self-assessed {_e(row.get('self_assessed_level') or 'none')})</span></td>"
            )
        body.append(f'<tr><th scope="row">{_e(night.isoformat())}</th>{"".join(cells)}</tr>')
    return (
        f'<div class="scroll"><table><caption>{_e(category.name)}: levels by night</caption>'
        f'<thead><tr><th scope="col">Night</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


# --- interoperability -------------------------------------------------------------------------


def _scorecard_section(data: DashboardData) -> str:
    parts = [
        '<section id="scorecard" aria-labelledby="scorecard-h">\n'
        '<h2 id="scorecard-h">Interoperability scorecard</h2>\n'
    ]
    if data.scorecard is None:
        parts.append(
            _not_available(
                "the interoperability scorecard.",
                "This warehouse has no marts.interoperability_scorecard table.",
            )
        )
        return "".join(parts) + "</section>\n"
    if not data.scorecard:
        parts.append(
            _not_available(
                "the interoperability scorecard.", "No connected system was scored tonight."
            )
        )
        return "".join(parts) + "</section>\n"
    rows, findings = [], []
    for r in data.scorecard:
        last = r.get("last_success_at")
        last_text = last.strftime("%Y-%m-%d %H:%M %Z") if isinstance(last, datetime) else last
        fresh = r.get("fresh")
        rows.append(
            f'<tr><th scope="row">{_e(r.get("system"))}</th><td>{_e(r.get("kind"))}</td>'
            f"<td>{_e(r.get('standard'))}</td><td>{status_badge(r.get('status'))}</td>"
            f"<td>{_count(r.get('learners'))}</td><td>{_count(r.get('learners_linked'))}</td>"
            f"<td>{_percent(r.get('link_rate'), 1)}</td>"
            f"<td>{_percent(r.get('referential_integrity'), 1)}</td>"
            f"<td>{_percent(r.get('validation_pass_rate'), 1)}</td>"
            f"<td>{_e(last_text or 'never')}</td>"
            f"<td>{'yes' if fresh else ('no' if fresh is not None else SUPPRESSED_MARK)}</td>"
            f"<td>{_count(r.get('sis_id_changes'))}</td></tr>"
        )
        if r.get("findings"):
            findings.append(f"<dt>{_e(r.get('system'))}</dt><dd>{_e(r.get('findings'))}</dd>")
    headers = (
        "System",
        "Kind",
        "Standard",
        "Status",
        "Learners",
        "Linked",
        "Link rate",
        "Referential integrity",
        "Validation pass rate",
        "Last success",
        "Fresh",
        "SIS id changes",
    )
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
    parts.append(
        '<div class="scroll"><table class="scorecard"><caption>Each connected system tonight: '
        "how its learners link to the SIS, whether its data holds together, and how fresh it is"
        f"</caption><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
    if findings:
        parts.append(
            '<h3 id="scorecard-findings">Findings</h3>'
            f'<dl class="findings">{"".join(findings)}</dl>'
        )
    return "".join(parts) + "</section>\n"


def _footer(data: DashboardData) -> str:
    earlier = ""
    if data.earlier_nights:
        links = "".join(
            f'<li><a href="{_e(night)}.html">{_e(night)}</a></li>' for night in data.earlier_nights
        )
        earlier = (
            '<nav aria-label="Earlier nights"><p>Earlier nights:</p>'
            f'<ul class="inline">{links}</ul></nav>'
        )
    footnote = f"<p>{_e(data.framework.footnote)}</p>" if data.framework.footnote else ""
    return (
        f"<footer>{earlier}<p>Levels and statements: {_e(data.framework.source)}. Groups "
        f"smaller than {int(data.min_group_size)} learners are never shown. Written by Pathways "
        f"for the night of {_e(data.night.isoformat())}.</p>{footnote}</footer>\n"
    )


# The page's style sheet; $name is a colour of PALETTE.
_CSS = Template("""
* { box-sizing: border-box }
body {
  margin: 0; color: $text; background: $page;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
header, main, footer { max-width: 1100px; margin: 0 auto; padding: 0 1rem }
h1 { font-size: 1.8rem; margin: 1rem 0 .25rem }
h2 { font-size: 1.4rem; margin: 2rem 0 .5rem; border-bottom: 2px solid $rule }
h3 { font-size: 1.15rem; margin: 1.25rem 0 .25rem }
h4 { font-size: 1rem; margin: 0 0 .25rem }
a { color: $link }
a:focus, summary:focus { outline: 3px solid $link; outline-offset: 2px }
.skip { position: absolute; left: -999px }
.skip:focus { left: 1rem; top: 1rem; background: $page; padding: .5rem; z-index: 1 }
.muted, .rule { color: $muted }
.lede { max-width: 70ch }
nav ul, .inline {
  list-style: none; padding: 0; margin: .5rem 0;
  display: flex; flex-wrap: wrap; gap: .5rem 1rem;
}
.cards, .multiples {
  list-style: none; padding: 0; display: grid; gap: .75rem;
  grid-template-columns: repeat(auto-fill, minmax(240px, 1fr));
}
.card, .indicator, .key {
  background: $panel; border: 1px solid $rule; border-radius: 6px; padding: .75rem;
}
.card h3 { margin-top: 0 }
.indicator { margin: .75rem 0 }
.key-title { font-weight: 600; margin: 0 }
.level, .status {
  display: inline-flex; align-items: center; gap: .3rem; white-space: nowrap;
  padding: .1rem .45rem; border-radius: 4px; border: 1px solid $text; color: $text;
}
.level-starting { background: $starting }
.level-practicing { background: $practicing }
.level-sustaining { background: $sustaining }
.level-not_assessed { background: $not_assessed; border-style: dashed }
.status-pass { background: $pass }
.status-warn { background: $warn }
.status-fail { background: $fail; border-width: 2px }
.badge-label { font-weight: 600 }
.flags { color: $flag; font-weight: 600; padding-left: 0; list-style: none }
.evidence dt, .findings dt { font-weight: 600 }
.findings dd { margin: 0 0 .5rem 0; max-width: 80ch }
.evidence dd { margin: 0 0 .5rem 0 }
.numbers dl { display: grid; grid-template-columns: max-content 1fr; gap: 0 1rem; margin: 0 }
.numbers dd { margin: 0 }
.numbers dt { font-weight: 600 }
.not-available { border-left: 4px solid $flag; padding: .25rem .75rem; background: $panel }
.mark { font-weight: 700 }
summary { cursor: pointer; color: $link }
table { border-collapse: collapse; margin: .5rem 0; font-size: .9rem }
th, td { border: 1px solid $rule; padding: .25rem .5rem; text-align: left; vertical-align: top }
caption { text-align: left; font-weight: 600; padding: .25rem 0 }
tr.here th, tr.here td { font-weight: 600 }
.scroll { overflow-x: auto }
figure { margin: .75rem 0 }
figcaption { color: $muted; font-size: .9rem }
.chart, .spark { max-width: 100%; height: auto }
svg text { fill: $text; font: 13px system-ui, sans-serif }
svg text.axis { fill: $muted; font-size: 11px }
.icon { flex: none }
.visually-hidden {
  position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap;
}
footer { margin: 2rem auto; color: $muted; font-size: .9rem }
@media print {
  body { font-size: 11pt }
  .skip, header nav, summary { display: none }
  details > * { display: block }
  .card, .indicator, figure, tr { break-inside: avoid }
  h2, h3 { break-after: avoid }
  a { color: $text; text-decoration: none }
}
/* Printed, every folded table is open (a browser without ::details-content drops this rule). */
@media print { details::details-content { display: block; content-visibility: visible } }
""")


def _css() -> str:
    return _CSS.substitute(PALETTE)


# --- writing the page -------------------------------------------------------------------------


def dashboard_folder(config: PathwaysConfig) -> Path:
    """Where the pages go: `dashboard/` beside the published warehouse file."""
    return config.warehouse.published_path.parent / "dashboard"


def write_dashboard(html: str, folder: Path, night: date, keep_nights: int = KEEP_NIGHTS) -> Path:
    """Write tonight's page as `index.html` and `<night>.html`, each swapped in whole (a reader
    on the file share sees last night's page or tonight's, never half of one), and remove the
    night pages beyond the newest `keep_nights`. Returns the index path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in (f"{night.isoformat()}.html", "index.html"):
        _replace_atomically(folder / name, html)
    pages = sorted(p for p in folder.iterdir() if _NIGHT_PAGE.match(p.name))
    for old in pages[: max(0, len(pages) - keep_nights)]:
        old.unlink(missing_ok=True)
    return folder / "index.html"


def kept_nights(folder: Path, before: date) -> list[str]:
    """The night pages already in `folder` from before `before`, newest first."""
    if not folder.is_dir():
        return []
    return sorted(
        (
            p.stem
            for p in folder.iterdir()
            if _NIGHT_PAGE.match(p.name) and p.stem < before.isoformat()
        ),
        reverse=True,
    )


def _replace_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        # mkstemp makes the file private; the page is meant for everyone on the share.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def category_levels_markdown(data: DashboardData) -> str:
    """Tonight's level of each category as a Markdown table, for the asset's metadata."""
    latest = _latest_by(data.categories or (), "category_id")
    lines = ["| category | level | indicators assessed |", "| --- | --- | --- |"]
    for category in data.framework.categories:
        row = latest.get(category.id)
        if row is None:
            lines.append(f"| {category.name} | not available | |")
        else:
            lines.append(
                f"| {category.name} | {row.get('level') or NOT_ASSESSED} | "
                f"{row.get('indicators_assessed')} of {row.get('indicators_total')} |"
            )
    return "\n".join(lines)


# --- the asset --------------------------------------------------------------------------------


def build_dashboard_asset(
    config: PathwaysConfig, upstream: Iterable[dg.AssetKey], keep_nights: int = KEEP_NIGHTS
) -> dg.AssetsDefinition:
    """The nightly dashboard page, rebuilt after whichever of its marts the graph has."""
    deps = sorted(set(upstream) & DASHBOARD_SOURCE_KEYS, key=lambda k: k.to_user_string())

    @dg.asset(
        key=DASHBOARD_KEY,
        deps=deps,
        group_name="outputs",
        kinds={"html"},
        pool=WAREHOUSE_POOL,
        description=(
            "The readiness dashboard district leaders open: one self-contained HTML page (no "
            "network needed, printable) with each category's level, each indicator's evidence "
            "and level statements, the equity view with small groups suppressed, trends over "
            "the nights and the interoperability scorecard. Aggregates only."
        ),
    )
    def readiness_dashboard(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        night = datetime.now(ZoneInfo(config.district.timezone)).date()
        folder = dashboard_folder(config)
        with warehouse.get_connection() as con:
            data = read_dashboard_data(
                con,
                load_framework(),
                config.district.name,
                night,
                config.privacy.min_group_size,
                kept_nights(folder, night),
            )
        path = write_dashboard(render_dashboard(data), folder, night, keep_nights)
        sections = data.sections
        context.log.info(
            f"dashboard written to {path.name}: "
            f"{', '.join(name for name, shown in sections.items() if shown) or 'no marts yet'}"
        )
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(path)),
                "night": night.isoformat(),
                "sections_rendered": ", ".join(n for n, shown in sections.items() if shown),
                "sections_not_available": ", ".join(
                    n for n, shown in sections.items() if not shown
                ),
                "indicators": len(data.indicators or ()),
                "equity_cells": len(data.equity or ()),
                "equity_cells_suppressed": sum(1 for r in data.equity or () if r.get("suppressed")),
                "systems_scored": len(data.scorecard or ()),
                "trend_nights": len({r.get("night") for r in data.history or ()}),
                "category_levels": dg.MetadataValue.md(category_levels_markdown(data)),
            }
        )

    return readiness_dashboard


def with_dashboard(
    config: PathwaysConfig, assets: Sequence[dg.AssetsDefinition]
) -> list[dg.AssetsDefinition]:
    """A night's assets and the dashboard page, which waits for whichever of its marts they
    build (a district with no credential platform, say, has no scorecard row to wait for)."""
    upstream = [key for asset in assets for key in asset.keys]
    return [*assets, build_dashboard_asset(config, upstream)]
