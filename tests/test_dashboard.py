"""The readiness dashboard: the renderer on hand-made marts, reading real DuckDB marts, writing
the nightly pages, and the page of a real night opened in headless Chromium."""

import itertools
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from browser import heading_levels, open_page
from rich.console import Console
from test_credentials_nightly import without_exports

from models.config import load_config
from models.readiness import Level, load_framework
from pipelines.cli import run_nightly
from pipelines.dashboard import (
    BLANK_STATEMENT,
    DASHBOARD_KEY,
    GRAPHIC_PAIRS,
    PALETTE,
    SUPPRESSED_MARK,
    TEXT_PAIRS,
    DashboardData,
    build_dashboard_asset,
    category_levels_markdown,
    contrast_ratio,
    dashboard_folder,
    kept_nights,
    read_dashboard_data,
    render_dashboard,
    write_dashboard,
)
from pipelines.warehouse import WarehouseResource
from sample_district.generate import generate_district

FRAMEWORK = load_framework()
NIGHT = date(2026, 11, 25)
LEVELS = [level.value for level in Level]


def indicator_rows(night: date = NIGHT) -> list[dict]:
    """One marts.readiness_indicators row per indicator: a mix of measured, self-assessed,
    conflicting and not-assessed indicators."""
    rows = []
    for n, indicator in enumerate(FRAMEWORK.indicators):
        category = indicator.id.split(".")[0]
        measured = LEVELS[n % 3] if n % 4 != 3 else None
        self_assessed = LEVELS[(n + 1) % 3] if n % 5 == 0 else None
        final = measured or self_assessed
        rows.append(
            {
                "night": night,
                "category_id": category,
                "category": FRAMEWORK.category(category).name,
                "indicator_id": indicator.id,
                "indicator": indicator.name,
                "measured_level": measured,
                "measured_evidence": f"Evidence for {indicator.id}: 3 of 12 course offerings"
                if measured
                else None,
                "measured_evidence_json": f'{{"course_offerings": 12, "with_cbe_{n}": 3}}'
                if measured
                else None,
                "self_assessed_level": self_assessed,
                "self_assessment_note": f"Note on {indicator.id}" if self_assessed else None,
                "self_assessed_by": "curriculum director" if self_assessed else None,
                "self_assessed_on": date(2026, 9, 1) if self_assessed else None,
                "final_level": final,
                "final_statement": indicator.statement(Level(final)) if final else None,
                "status": "assessed" if final else "not assessed",
                "flags": ["self_assessment_above_measured"]
                if self_assessed
                and measured
                and LEVELS.index(self_assessed) > LEVELS.index(measured)
                else [],
            }
        )
    return rows


def category_rows(nights: list[date]) -> list[dict]:
    """marts.readiness_categories over several nights, each category's level rising."""
    rows = []
    for k, night in enumerate(nights):
        for n, category in enumerate(FRAMEWORK.categories):
            level = LEVELS[min(2, (n + k) % 4)] if (n + k) % 4 != 3 else None
            rows.append(
                {
                    "night": night,
                    "category_id": category.id,
                    "category": category.name,
                    "level": level,
                    "indicators_total": len(category.indicators),
                    "indicators_assessed": len(category.indicators) - (0 if level else 1),
                    "rule": "The lowest level among assessed indicators.",
                }
            )
    return rows


def history_rows(nights: list[date]) -> list[dict]:
    """marts.readiness_history over several nights."""
    return [
        {
            "night": night,
            "indicator_id": indicator.id,
            "category_id": indicator.id.split(".")[0],
            "measured_level": LEVELS[(n + k) % 3],
            "self_assessed_level": None,
            "final_level": LEVELS[(n + k) % 3],
        }
        for k, night in enumerate(nights)
        for n, indicator in enumerate(FRAMEWORK.indicators)
    ]


def equity_row(metric="credential_earned", school=None, dimension="all", group="all", **values):
    """One marts.equity_metrics row; shown numbers unless `values` says otherwise."""
    row = {
        "night": NIGHT,
        "metric": metric,
        "metric_label": "Learners who earned a micro-credential",
        "school_id": school,
        "school_name": f"School {school}" if school else None,
        "dimension": dimension,
        "group_value": group,
        "learners": 200,
        "learners_meeting": 120,
        "rate": 0.6,
        "rate_range": None,
        "gap_to_all": 0.0,
        "suppressed": False,
        "suppression_reason": None,
    }
    row.update(values)
    return row


def equity_rows() -> list[dict]:
    return [
        equity_row(),
        equity_row(
            dimension="economically_disadvantaged",
            group="yes",
            learners=80,
            learners_meeting=36,
            rate=0.45,
            gap_to_all=-0.15,
        ),
        equity_row(
            dimension="english_learner", group="yes", learners=40, rate=0.5, gap_to_all=-0.1
        ),
        # Distinctive numbers a suppressed cell must never show.
        equity_row(
            dimension="disability",
            group="yes",
            learners=9137,
            learners_meeting=4242,
            rate=0.123456,
            gap_to_all=-0.4321,
            suppressed=True,
            suppression_reason="primary",
        ),
        equity_row(
            dimension="race_ethnicity",
            group="americanIndianOrAlaskaNative",  # OneRoster's column, named for readers
            learners=31,
            learners_meeting=None,
            rate=None,
            rate_range="<= 5%",
            gap_to_all=None,
        ),
        equity_row(school="s1", learners=120, learners_meeting=80, rate=0.6667, gap_to_all=0.0667),
        equity_row(school="s2", learners=80, learners_meeting=40, rate=0.5, gap_to_all=-0.1),
        equity_row(
            school="s1", dimension="sex", group="female", learners=61, rate=0.7, gap_to_all=0.03
        ),
    ]


def scorecard_rows() -> list[dict]:
    return [
        {
            "night": NIGHT,
            "system": "canvas",
            "kind": "lms",
            "standard": "Canvas REST",
            "learners": 300,
            "learners_linked": 291,
            "link_rate": 0.97,
            "referential_integrity": 1.0,
            "validation_pass_rate": 0.995,
            "last_success_at": datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
            "fresh": True,
            "sis_id_changes": 2,
            "status": "warn",
            "findings": "9 accounts could not be linked",
        }
    ]


def full_data(**changes) -> DashboardData:
    nights = [NIGHT - timedelta(days=2), NIGHT - timedelta(days=1), NIGHT]
    data = DashboardData(
        district_name="Sample District",
        night=NIGHT,
        framework=FRAMEWORK,
        min_group_size=10,
        indicators=indicator_rows(),
        categories=category_rows(nights),
        history=history_rows(nights),
        equity=equity_rows(),
        scorecard=scorecard_rows(),
        earlier_nights=("2026-11-24", "2026-11-23"),
    )
    return replace(data, **changes)


def tonights_categories() -> list[dict]:
    return [r for r in full_data().categories if r["night"] == NIGHT]


class _Page(HTMLParser):
    """What the tests look at in a page: headings, SVGs and their children, table cells."""

    def __init__(self, html: str):
        super().__init__()
        self.headings: list[tuple[int, str]] = []
        self.svgs: list[dict] = []
        self.rows: list[list[str]] = []
        self._heading: list | None = None
        self._svg_depth = 0
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = [int(tag[1]), ""]
        if tag == "svg":
            self._svg_depth += 1
            if self._svg_depth == 1:
                self.svgs.append({"attrs": attrs, "children": []})
        elif self._svg_depth and tag in ("title", "desc"):
            self.svgs[-1]["children"].append(tag)
        if tag == "tr":
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if re.fullmatch(r"h[1-6]", tag) and self._heading:
            self.headings.append((self._heading[0], self._heading[1].strip()))
            self._heading = None
        if tag == "svg":
            self._svg_depth -= 1
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._heading is not None:
            self._heading[1] += data
        if self._cell is not None:
            self._cell.append(data)


# --- the renderer -----------------------------------------------------------------------------


def test_every_category_is_a_heading_with_its_level_in_words():
    html = render_dashboard(full_data())
    page = _Page(html)
    h3 = [text for level, text in page.headings if level == 3]
    for category in FRAMEWORK.categories:
        assert category.name in h3
    # Tonight's level of each category, in words, on its card.
    for row in tonights_categories():
        card = html.split(f'id="glance-{row["category_id"].replace("_", "-")}"')[1].split("</li>")[
            0
        ]
        assert (row["level"] or "Not assessed") in card


def test_every_indicator_shows_its_evidence_self_assessment_and_every_level_statement():
    html = render_dashboard(full_data())
    page = _Page(html)
    h4 = [text for level, text in page.headings if level == 4]
    assert len(h4) == len(FRAMEWORK.indicators)
    from html import escape

    for row in indicator_rows():
        assert escape(row["indicator"]) in html
        if row["measured_evidence"]:
            assert escape(row["measured_evidence"]) in html
        if row["self_assessment_note"]:
            assert escape(row["self_assessment_note"]) in html
    for indicator in FRAMEWORK.indicators:
        for statement in indicator.statements.values():
            if statement:
                assert escape(statement) in html
    assert html.count("The self-assessment is above what the data shows.") == sum(
        1 for r in indicator_rows() if r["flags"]
    )
    assert "course offerings" in html  # the numbers behind a measured level


def test_a_level_the_framework_leaves_blank_says_so():
    html = render_dashboard(full_data())
    blank = sum(1 for i in FRAMEWORK.indicators for s in i.statements.values() if s is None)
    assert blank >= 1
    assert html.count(BLANK_STATEMENT) == blank


def test_an_indicator_with_no_level_reads_not_assessed():
    html = render_dashboard(full_data())
    unassessed = [r for r in indicator_rows() if r["final_level"] is None]
    assert unassessed
    for row in unassessed:
        article = html.split(
            f'<h4 id="ind-{row["indicator_id"].replace("_", "-").replace(".", "-")}"'
        )[1]
        article = article.split("</article>")[0]
        assert "Not assessed" in article and "not assessed" in article


def test_a_suppressed_group_shows_the_mark_and_none_of_its_numbers():
    html = render_dashboard(full_data())
    for number in ("9,137", "9137", "4,242", "4242", "12.3", "43.2", "0.123456"):
        assert number not in html
    page = _Page(html)
    suppressed = [r for r in page.rows if r and r[0] == "Learners with disabilities: yes"]
    assert suppressed, "the suppressed group still has its row"
    for row in suppressed:
        assert row[1:] == [SUPPRESSED_MARK] * 4
    assert "suppressed: a group of fewer than 10 learners" in html


def test_a_rate_near_zero_shows_only_its_range():
    html = render_dashboard(full_data())
    page = _Page(html)
    coded = next(r for r in page.rows if r and r[0].startswith("Race/ethnicity: American Indian"))
    assert coded == [coded[0], "31", SUPPRESSED_MARK, "<= 5%", SUPPRESSED_MARK]


def test_each_equity_chart_draws_the_all_learners_line_and_labels_gaps():
    html = render_dashboard(full_data())
    assert html.count('stroke-dasharray="4 3"') == 2  # the district chart and the school chart
    assert "45.0% (−15.0 pts)" in html
    assert "All learners rate 60.0%" in html


def test_every_chart_is_an_image_with_a_title_a_description_and_a_table():
    page = _Page(render_dashboard(full_data()))
    charts = [s for s in page.svgs if s["attrs"].get("role") == "img"]
    decorative = [s for s in page.svgs if s["attrs"].get("role") != "img"]
    assert len(charts) >= 2 + len(FRAMEWORK.categories) + len(FRAMEWORK.indicators)
    for chart in charts:
        assert chart["children"][:2] == ["title", "desc"]
        assert chart["attrs"]["aria-labelledby"]
    assert all(s["attrs"].get("aria-hidden") == "true" for s in decorative)
    summaries = sum(1 for tag, _ in page.tags if tag == "summary")
    details = sum(1 for tag, _ in page.tags if tag == "details")
    assert summaries == details > 0


def test_the_page_has_one_h1_headings_in_order_and_a_language():
    html = render_dashboard(full_data())
    page = _Page(html)
    levels = [level for level, _ in page.headings]
    assert levels.count(1) == 1 and levels[0] == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
    assert html.startswith('<!DOCTYPE html>\n<html lang="en">')


def test_levels_are_told_by_word_and_shape_not_colour_alone():
    html = render_dashboard(full_data())
    for level in LEVELS:
        badges = re.findall(rf'<span class="level level-{level.lower()}">(.*?)</span></span>', html)
        assert badges
        for badge in badges:
            assert f'<span class="level-text">{level}</span>' in badge + "</span>"
            filled = badge.count(f'fill="{PALETTE["text"]}"')
            assert filled == LEVELS.index(level) + 1


def test_the_palette_text_contrast_is_at_least_4_5_to_1():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#777777", "#777777") == pytest.approx(1)
    for fg, bg in TEXT_PAIRS:
        assert contrast_ratio(PALETTE[fg], PALETTE[bg]) >= 4.5, (fg, bg)
    for fg, bg in GRAPHIC_PAIRS:
        assert contrast_ratio(PALETTE[fg], PALETTE[bg]) >= 3.0, (fg, bg)


def test_the_page_uses_no_colour_outside_the_tested_palette():
    html = render_dashboard(full_data())
    used = {c.lower() for c in re.findall(r"#[0-9a-fA-F]{6}\b", html)}
    assert used and used <= set(PALETTE.values())


def test_the_page_references_no_external_resource_and_needs_no_script():
    html = render_dashboard(full_data())
    assert not re.search(r"https?://", html)
    assert not re.search(r"""(src|href)\s*=\s*["']?//""", html)
    assert not re.search(r"url\(|@import", html)
    for tag in ("<script", "<link", "<img", "<iframe", "<object", "<embed"):
        assert tag not in html
    hrefs = [a.get("href") for tag, a in _Page(html).tags if tag == "a"]
    assert hrefs and all(
        h.startswith("#") or re.fullmatch(r"\d{4}-\d\d-\d\d\.html", h) for h in hrefs
    )


def test_hostile_text_from_the_warehouse_is_escaped_everywhere():
    attack = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    rows = indicator_rows()
    rows[0] = {
        **rows[0],
        "measured_evidence": attack,
        "self_assessment_note": attack,
        "self_assessed_level": "Practicing",
        "measured_evidence_json": '{"' + attack.replace('"', "'") + '": "' + "x" + '"}',
        "flags": [attack],
        "final_level": attack,
    }
    html = render_dashboard(
        full_data(
            district_name=attack,
            indicators=rows,
            equity=[*equity_rows(), equity_row(dimension="sex", group=attack, metric_label=attack)],
            scorecard=[{**scorecard_rows()[0], "system": attack, "findings": attack}],
        )
    )
    assert (
        "<script" not in html
        and "<img" not in html
        and "onerror=alert" not in html.replace("onerror=alert(2)&gt;", "")
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_district_without_the_marts_gets_not_available_sections_and_the_framework():
    data = DashboardData(district_name="No Marts", night=NIGHT, framework=FRAMEWORK)
    html = render_dashboard(data)
    assert html.count("Not available:") == 5
    page = _Page(html)
    assert [text for level, text in page.headings if level == 2] == [
        "The seven categories at a glance",
        "Indicators: evidence and level statements",
        "Equity: the learners furthest from opportunity",
        "Trends over nights",
        "Interoperability scorecard",
    ]
    # The framework still shows: every category and its statements.
    for category in FRAMEWORK.categories:
        assert category.name in [text for _, text in page.headings]
    assert data.sections == dict.fromkeys(data.sections, False)


def test_one_missing_mart_leaves_the_other_sections_whole():
    html = render_dashboard(full_data(scorecard=None, equity=[]))
    assert "This warehouse has no marts.interoperability_scorecard table." in html
    assert "marts.equity_metrics has no rows yet." in html
    assert html.count("Not available:") == 2
    assert "self-assessment is above" in html


def test_the_metadata_table_lists_each_category_level():
    markdown = category_levels_markdown(full_data())
    lines = markdown.splitlines()
    assert len(lines) == 2 + len(FRAMEWORK.categories)
    latest = {r["category"]: r["level"] or "Not assessed" for r in tonights_categories()}
    for name, level in latest.items():
        assert f"| {name} | {level} |" in markdown


# --- reading the marts ------------------------------------------------------------------------


def _load(con, table: str, rows: list[dict], types: dict[str, str]) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    columns = ", ".join(f"{name} {kind}" for name, kind in types.items())
    con.execute(f"CREATE TABLE marts.{table} ({columns})")
    placeholders = ", ".join("?" for _ in types)
    con.executemany(
        f"INSERT INTO marts.{table} VALUES ({placeholders})",
        [[row[name] for name in types] for row in rows],
    )


INDICATOR_TYPES = {
    "night": "DATE",
    "category_id": "VARCHAR",
    "category": "VARCHAR",
    "indicator_id": "VARCHAR",
    "indicator": "VARCHAR",
    "measured_level": "VARCHAR",
    "measured_evidence": "VARCHAR",
    "measured_evidence_json": "JSON",
    "self_assessed_level": "VARCHAR",
    "self_assessment_note": "VARCHAR",
    "self_assessed_by": "VARCHAR",
    "self_assessed_on": "DATE",
    "final_level": "VARCHAR",
    "final_statement": "VARCHAR",
    "status": "VARCHAR",
    "flags": "VARCHAR[]",
}
CATEGORY_TYPES = {
    "night": "DATE",
    "category_id": "VARCHAR",
    "category": "VARCHAR",
    "level": "VARCHAR",
    "indicators_total": "INTEGER",
    "indicators_assessed": "INTEGER",
    "rule": "VARCHAR",
}


def test_reading_takes_tonights_rows_the_recent_history_and_none_for_absent_marts():
    con = duckdb.connect()
    nights = [NIGHT - timedelta(days=1), NIGHT, NIGHT + timedelta(days=1)]
    _load(
        con,
        "readiness_indicators",
        indicator_rows(NIGHT - timedelta(days=1)) + indicator_rows(NIGHT),
        INDICATOR_TYPES,
    )
    _load(con, "readiness_categories", category_rows(nights), CATEGORY_TYPES)
    data = read_dashboard_data(con, FRAMEWORK, "Sample District", NIGHT)
    assert len(data.indicators) == len(FRAMEWORK.indicators)
    assert {r["night"] for r in data.indicators} == {NIGHT}
    flagged = [r for r in data.indicators if r["flags"]]
    assert flagged and all(r["flags"] == ["self_assessment_above_measured"] for r in flagged)
    # A later night (a re-run of an older night's page) is never read.
    assert {r["night"] for r in data.categories} == set(nights[:2])
    assert data.history is None and data.equity is None and data.scorecard is None
    html = render_dashboard(data)
    assert html.count("Not available:") == 3  # equity, indicator trends, scorecard


# --- writing the pages and the asset ------------------------------------------------------------


def test_each_night_writes_the_index_and_its_own_page_and_keeps_the_last_n(tmp_path):
    folder = tmp_path / "dashboard"
    for k in range(5):
        night = NIGHT + timedelta(days=k)
        write_dashboard(f"<p>{night}</p>", folder, night, keep_nights=3)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["2026-11-27.html", "2026-11-28.html", "2026-11-29.html", "index.html"]
    assert (folder / "index.html").read_text() == "<p>2026-11-29</p>"
    assert (folder / "index.html").stat().st_mode & 0o777 == 0o644
    assert kept_nights(folder, date(2026, 11, 29)) == ["2026-11-28", "2026-11-27"]


@pytest.fixture(scope="module")
def small_config(tmp_path_factory):
    district = generate_district(20, tmp_path_factory.mktemp("d") / "d", seed=5)
    return load_config(district.config_path)


def test_the_asset_depends_on_whichever_dashboard_marts_the_graph_has(small_config):
    present = [dg.AssetKey(["marts", "equity_metrics"]), dg.AssetKey(["core", "learners"])]
    asset = build_dashboard_asset(small_config, present)
    assert asset.key == DASHBOARD_KEY
    assert set(asset.asset_deps[DASHBOARD_KEY]) == {dg.AssetKey(["marts", "equity_metrics"])}
    assert asset.op.pool == "warehouse"


def test_the_asset_writes_the_page_beside_the_published_copy_with_counts_only(small_config):
    small_config.warehouse.path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(small_config.warehouse.path))
    _load(con, "readiness_categories", category_rows([NIGHT]), CATEGORY_TYPES)
    con.close()
    asset = build_dashboard_asset(small_config, [])
    result = dg.materialize(
        [asset],
        resources={"warehouse": WarehouseResource(database=str(small_config.warehouse.path))},
    )
    assert result.success
    metadata = result.asset_materializations_for_node(asset.op.name)[0].metadata
    index = small_config.warehouse.published_path.parent / "dashboard" / "index.html"
    assert metadata["path"].value == str(index)
    assert index.is_file()
    assert metadata["sections_rendered"].value == "categories, trends"
    assert "| Readiness for Change |" in metadata["category_levels"].value
    assert "Readiness for Change" in index.read_text(encoding="utf-8")


def test_the_scorecard_shows_each_system_its_status_in_words_and_its_findings():
    html = render_dashboard(full_data())
    page = _Page(html)
    canvas = next(r for r in page.rows if r and r[0] == "canvas")
    assert canvas[3] == "! warn"
    assert canvas[4:9] == ["300", "291", "97.0%", "100.0%", "99.5%"]
    assert "<dt>canvas</dt><dd>9 accounts could not be linked</dd>" in html


# --- a real night in a real browser -------------------------------------------------------------

SCREENSHOT = Path("/tmp/dashboard.png")


@pytest.fixture(scope="module")
def dashboard_night(tmp_path_factory):
    """A 300-learner district after one nightly run (no learner-record export: it is not what
    this file tests), its written dashboard, and a few real learners' ids and names."""
    district = generate_district(300, tmp_path_factory.mktemp("district") / "d", seed=7)
    without_exports(district.config_path)
    with dg.DagsterInstance.ephemeral() as instance:
        summary = run_nightly(district.config_path, Console(record=True, width=120), instance)
        events = instance.get_latest_materialization_event(DASHBOARD_KEY)
    config = load_config(district.config_path)
    con = duckdb.connect(str(config.warehouse.path), read_only=True)
    try:
        people = con.execute(
            "SELECT u.sourcedId, u.givenName, u.familyName, u.email FROM core.learners AS l "
            "JOIN raw.oneroster_users AS u ON u.sourcedId = l.learner_sourced_id "
            "WHERE length(u.familyName) > 4 AND u.email <> '' ORDER BY u.sourcedId LIMIT 25"
        ).fetchall()
        marts = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
            ).fetchall()
        }
    finally:
        con.close()
    index = dashboard_folder(config) / "index.html"
    return summary, events, index, people, marts


def test_the_night_writes_the_dashboard_and_reports_counts_and_category_levels(dashboard_night):
    _, event, index, _, _ = dashboard_night
    assert event is not None
    metadata = event.asset_materialization.metadata
    assert metadata["path"].value == str(index)
    night_page = index.parent / f"{metadata['night'].value}.html"
    assert night_page.read_bytes() == index.read_bytes()
    assert (
        metadata["sections_rendered"].value == "categories, indicators, equity, trends, scorecard"
    )
    assert metadata["indicators"].value == len(FRAMEWORK.indicators)
    assert 0 < metadata["equity_cells_suppressed"].value < metadata["equity_cells"].value
    table = metadata["category_levels"].value
    for category in FRAMEWORK.categories:
        assert f"| {category.name} |" in table


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_the_dashboard_opens_offline_in_chromium_with_every_category_and_level(
    dashboard_night, javascript
):
    _, _, index, _, marts = dashboard_night
    with open_page(index.as_uri(), javascript=javascript) as (page, log):
        for category in FRAMEWORK.categories:
            heading = page.get_by_role("heading", name=category.name, exact=True).first
            assert heading.is_visible()
            card = page.locator(f"#glance-{category.id.replace('_', '-')}").locator("..")
            level = card.locator(".card-level .level-text").inner_text()
            assert level in {*LEVELS, "Not assessed"}
        levels = heading_levels(page)
        assert levels.count(1) == 1 and levels[0] == 1
        assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
        # The folded tables open from the keyboard.
        summary = page.locator("#indicators summary").first
        summary.focus()
        page.keyboard.press("Enter")
        assert page.locator("#indicators details").first.get_attribute("open") is not None
        # The sample district has every mart: no section is missing, small groups are marked.
        assert {"equity_metrics", "interoperability_scorecard", "readiness_history"} <= marts
        assert page.locator(".not-available").count() == 0
        assert page.locator("#equity svg[role=img]").count() >= 2
        assert page.locator("#suppression-key").is_visible()
        assert page.locator("#equity svg text", has_text="— suppressed").count() >= 1
        assert page.locator("#scorecard table").is_visible()
        if javascript:
            page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert log.problems == []
    assert log.requests == [index.as_uri()]


def test_the_dashboard_holds_no_learner_id_name_or_email(dashboard_night):
    _, _, index, people, _ = dashboard_night
    html = index.read_text(encoding="utf-8")
    assert len(people) == 25
    for sourced_id, given, family, email in people:
        assert sourced_id not in html
        assert family not in html
        assert email not in html
        assert f"{given} {family}" not in html


def test_printed_the_folded_tables_open_and_the_navigation_is_left_out(dashboard_night):
    _, _, index, _, _ = dashboard_night
    with open_page(index.as_uri(), javascript=False) as (page, log):
        statements = page.locator("#indicators details.statements table").first
        assert not statements.is_visible()
        page.emulate_media(media="print")
        assert statements.is_visible()
        assert not page.locator("header nav").is_visible()
    assert log.problems == []
