"""The readiness framework data is the published framework, word for word, and loads only whole.

The published framework is the seed document `000_*.txt` in the project's shared folder (a text
extraction of the framework's PDF). The shared folder sits beside the clone, locally and in CI;
only these tests read it, never the product.

How "every statement of the seed's table appears exactly once" is checked, twice, in two
independent ways:
- by cell: the extraction separates the table's cells with blank lines, so the table text (the
  seed minus its title-and-introduction block and its column header) splits into paragraphs that
  are either a category name or one cell. Each category's cells must be, as a multiset, exactly
  its framework statements: a forgotten, duplicated, reworded or misfiled statement fails.
- by text coverage, without trusting the blank lines: in the whole table text, the column header,
  each category name and each statement must occur exactly once, no two may overlap, and nothing
  but whitespace may remain once they are all taken out.
Both compare the seed's text after undoing the PDF's line breaks the same way the data file
says it did (`normalized`).
"""

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from models.readiness import FRAMEWORK_FILE, Framework, FrameworkError, Level, load_framework

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"

TABLE_HEADER = "Indicators Starting Practicing Sustaining"
# The title-and-introduction block the extraction placed in the middle of the table.
INTRO_FIRST_LINE = "District Readiness Framework"
INTRO_LAST_LINE_START = "*HSE ="

# The table's category names, as the seed words them, in its order.
SEED_CATEGORY_NAMES = (
    "Readiness for Change",
    "Equity and Inclusion",
    "Competency-based Education",
    "Institutional or Community Partnerships",
    "Student Advising and Career Support",
    "Technology Access and Adoption",
    "Data Security, Privacy, & Infrastructure",
)

# Warehouse tables and dashboards key on these; changing one is a migration, not an edit.
INDICATOR_IDS = (
    "readiness_for_change.learners_furthest_from_opportunity",
    "readiness_for_change.micro_credential_and_ler_adoption",
    "readiness_for_change.student_choice_and_ownership",
    "equity_and_inclusion.programs_for_learners_furthest_from_opportunity",
    "equity_and_inclusion.stakeholder_feedback",
    "competency_based_education.competency_based_learning_and_assessment",
    "competency_based_education.micro_credentials_and_digital_badging",
    "competency_based_education.educator_professional_development",
    "institutional_or_community_partnerships.formal_partnerships",
    "institutional_or_community_partnerships.community_engagement",
    "institutional_or_community_partnerships.partner_and_student_support_systems",
    "institutional_or_community_partnerships.internships_and_dual_enrollment",
    "student_advising_and_career_support.personalized_career_counseling",
    "student_advising_and_career_support.skills_based_learning_opportunities",
    "student_advising_and_career_support.job_placement_support",
    "technology_access_and_adoption.broadband_and_device_access",
    "technology_access_and_adoption.digital_skills_training",
    "technology_access_and_adoption.technology_support_staff",
    "data_security_privacy_and_infrastructure.data_privacy_training",
    "data_security_privacy_and_infrastructure.data_collection_transparency",
    "data_security_privacy_and_infrastructure.interoperable_infrastructure",
)


def normalized(text: str) -> str:
    """The seed's text with the PDF's line breaks undone, as the data file describes."""
    # A real hyphen at a line end keeps a space after it in this extraction ("micro- \n").
    text = re.sub(r"- +\n", "-", text)
    # A word the PDF split at a line end does not ("im-\nplements").
    text = re.sub(r"-\n", "", text)
    text = re.sub(r"/[ \t]*\n", "/", text)  # "and/\nor"
    return " ".join(text.split())


@pytest.fixture(scope="module")
def seed() -> str:
    found = sorted(SEEDS.glob("000_*.txt"))
    if len(found) != 1:
        pytest.fail(
            f"the framework's source text must be exactly one file {SEEDS}/000_*.txt (the shared "
            f"folder beside the clone); found {[str(path) for path in found]}"
        )
    return found[0].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def table_text(seed: str) -> str:
    """The seed's table as raw text: the seed without its title-and-introduction block."""
    lines = seed.splitlines()
    assert INTRO_FIRST_LINE in lines, f"the seed no longer has the line {INTRO_FIRST_LINE!r}"
    start = lines.index(INTRO_FIRST_LINE)
    end = next((i for i, line in enumerate(lines) if line.startswith(INTRO_LAST_LINE_START)), None)
    assert end is not None and end > start, f"no line starting {INTRO_LAST_LINE_START!r}"
    return "\n".join(lines[:start] + lines[end + 1 :])


@pytest.fixture(scope="module")
def seed_cells_by_category(table_text: str) -> dict[str, list[str]]:
    """Each category name of the seed's table, with the cells that follow it, in text order."""
    paragraphs = [normalized(p) for p in re.split(r"\n[ \t]*\n", table_text) if p.strip()]
    assert paragraphs[0] == TABLE_HEADER
    sections: dict[str, list[str]] = {}
    cells: list[str] | None = None
    for paragraph in paragraphs[1:]:
        if paragraph in SEED_CATEGORY_NAMES:
            assert paragraph not in sections, f"category {paragraph!r} twice in the seed"
            cells = sections[paragraph] = []
        else:
            assert cells is not None, f"a cell before the first category: {paragraph!r}"
            cells.append(paragraph)
    return sections


@pytest.fixture(scope="module")
def framework() -> Framework:
    return load_framework()


def test_the_seed_table_has_seven_categories_in_the_order_named_here(seed_cells_by_category):
    assert tuple(seed_cells_by_category) == SEED_CATEGORY_NAMES


def test_the_framework_has_the_seven_categories_of_the_seed_with_its_names_in_its_order(
    framework,
):
    assert tuple(category.name for category in framework.categories) == SEED_CATEGORY_NAMES


@pytest.mark.parametrize("category_name", SEED_CATEGORY_NAMES)
def test_each_cell_of_the_seed_table_is_exactly_one_statement_of_its_category(
    framework, seed_cells_by_category, category_name
):
    (category,) = [c for c in framework.categories if c.name == category_name]
    statements = Counter(
        statement
        for indicator in category.indicators
        for statement in indicator.statements.values()
        if statement is not None
    )
    cells = Counter(seed_cells_by_category[category_name])
    assert {
        "in the seed, not in the framework": sorted((cells - statements).elements()),
        "in the framework, not in the seed": sorted((statements - cells).elements()),
    } == {"in the seed, not in the framework": [], "in the framework, not in the seed": []}


def test_statements_category_names_and_header_each_occur_once_and_cover_the_table_text(
    framework, table_text
):
    text = normalized(table_text)
    fragments = [
        TABLE_HEADER,
        *(category.name for category in framework.categories),
        *(s for indicator in framework.indicators for s in indicator.statements.values() if s),
    ]
    owner: list[str | None] = [None] * len(text)  # which fragment accounts for each character
    for fragment in fragments:
        # A lookahead counts overlapping occurrences too.
        starts = [m.start() for m in re.finditer(f"(?={re.escape(fragment)})", text)]
        assert len(starts) == 1, f"{fragment!r} occurs {len(starts)} times in the table text"
        for i in range(starts[0], starts[0] + len(fragment)):
            assert owner[i] is None, f"{fragment!r} overlaps {owner[i]!r} in the table text"
            owner[i] = fragment
    leftover = "".join(char for char, by in zip(text, owner, strict=True) if by is None)
    assert leftover.strip() == "", f"table text no statement accounts for: {leftover.strip()!r}"


def test_a_cell_the_seed_leaves_empty_stays_empty(framework):
    empty = [
        (indicator.id, level)
        for indicator in framework.indicators
        for level, statement in indicator.statements.items()
        if statement is None
    ]
    assert empty == [
        (
            "institutional_or_community_partnerships.partner_and_student_support_systems",
            Level.STARTING,
        )
    ]


def test_descriptions_quote_the_seed_word_for_word(framework, seed):
    text = normalized(seed)
    quoted = [framework.description, framework.footnote]
    quoted += [category.description for category in framework.categories]
    for quote in quoted:
        assert quote and quote in text, f"not in the seed: {quote!r}"


def test_the_source_is_the_title_the_seed_states(framework, seed):
    assert framework.source == INTRO_FIRST_LINE
    assert INTRO_FIRST_LINE in seed.splitlines()


def test_every_indicator_is_graded_on_the_three_levels_in_order(framework):
    assert framework.levels == (Level.STARTING, Level.PRACTICING, Level.SUSTAINING)
    assert [level.value for level in framework.levels] == ["Starting", "Practicing", "Sustaining"]
    for indicator in framework.indicators:
        assert list(indicator.statements) == list(framework.levels)


def test_ids_are_unique_snake_case_and_name_their_category(framework):
    ids = [category.id for category in framework.categories]
    ids += [indicator.id for indicator in framework.indicators]
    assert len(ids) == len(set(ids))
    for category in framework.categories:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", category.id)
        for indicator in category.indicators:
            assert re.fullmatch(rf"{category.id}\.[a-z]+(_[a-z]+)*", indicator.id)


def test_indicator_ids_are_the_published_ones_in_order(framework):
    assert tuple(indicator.id for indicator in framework.indicators) == INDICATOR_IDS


def test_an_indicator_is_found_by_its_id_with_its_statements_by_level(framework):
    indicator = framework.indicator(
        "competency_based_education.micro_credentials_and_digital_badging"
    )
    assert indicator.statement(Level.PRACTICING) == (
        "Developing micro-credentials and competency-based digital badging"
    )
    assert framework.category("competency_based_education").indicators[1] is indicator


def test_the_framework_ships_inside_the_package():
    assert FRAMEWORK_FILE.parent == Path(__file__).resolve().parents[1] / "models"


# Broken copies of the shipped file, each with the message a data person must see.
def _drop_a_category(d: dict[str, Any]) -> None:
    d["categories"].pop()


def _add_a_level(d: dict[str, Any]) -> None:
    d["levels"].append("Leading")


def _reuse_an_indicator_id(d: dict[str, Any]) -> None:
    indicators = d["categories"][0]["indicators"]
    indicators[1]["id"] = indicators[0]["id"]


def _file_an_indicator_under_another_category(d: dict[str, Any]) -> None:
    d["categories"][1]["indicators"][0]["id"] = "readiness_for_change.feedback"


def _forget_a_level(d: dict[str, Any]) -> None:
    del d["categories"][2]["indicators"][0]["statements"]["sustaining"]


def _misspell_a_key(d: dict[str, Any]) -> None:
    indicator = d["categories"][0]["indicators"][0]
    indicator["statments"] = indicator.pop("statements")


def _empty_every_level(d: dict[str, Any]) -> None:
    d["categories"][0]["indicators"][0]["statements"] = dict.fromkeys(
        ("starting", "practicing", "sustaining")
    )


def _blank_a_name(d: dict[str, Any]) -> None:
    d["categories"][3]["name"] = " "


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (_drop_a_category, "categories: expected the framework's 7 categories, found 6"),
        (_add_a_level, "levels: expected exactly the three levels"),
        (_reuse_an_indicator_id, "'readiness_for_change.learners_furthest_from_opportunity' is"),
        (
            _file_an_indicator_under_another_category,
            "categories[1].indicators[0].id: indicator id 'readiness_for_change.feedback' must be "
            "'equity_and_inclusion', a dot, then snake_case",
        ),
        (_forget_a_level, "categories[2].indicators[0].statements: missing sustaining"),
        (_misspell_a_key, "categories[0].indicators[0]: unknown key statments"),
        (_empty_every_level, "needs a statement at one level at least"),
        (_blank_a_name, "categories[3].name: expected non-empty text"),
    ],
)
def test_a_broken_framework_file_is_refused_with_where_and_why(tmp_path, breakage, message):
    document = yaml.safe_load(FRAMEWORK_FILE.read_text(encoding="utf-8"))
    breakage(document)
    path = tmp_path / "readiness_framework.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")
    with pytest.raises(FrameworkError) as raised:
        load_framework(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_a_file_that_is_not_yaml_is_refused_with_its_path(tmp_path):
    path = tmp_path / "readiness_framework.yaml"
    path.write_text("categories: [unclosed\n", encoding="utf-8")
    with pytest.raises(FrameworkError, match="not valid YAML"):
        load_framework(path)
