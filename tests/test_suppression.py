"""Small-cell suppression: nothing the equity tables hide can be recomputed from what they show.

Two adversaries read only what `suppress` publishes (every shown size, count, rate, range, gap
and reason, in every metric) plus the rule itself, and try to recompute every hidden number.
They are written independently of the engine:

- `linear_leaks`, the exact linear attack. Every group is a set of learner *types* (one per
  combination of school, program flags, sex and race flags), so every published number is a sum
  of per-type numbers. A hidden number can be computed from published ones by any arithmetic on
  totals, siblings, parents and children exactly when its row lies in the span of the published
  rows. This needs no list of partitions, so it also catches a relation the engine missed.
- `bound_leaks`, the integer attack. Every hidden number becomes an integer variable bound by
  every partition (checked to span all the linear relations above), every subset relation
  between groups (for sizes, counts, and non-counts), 0 <= count <= size, and what each reason
  and coded range says. An exhaustive search then looks for an alternative district: a hidden
  number is recomputed when no alternative changes it; "no one" or "everyone" in a group is
  disclosed when no alternative has a learner who meets (or does not meet) the metric. The
  search is complete; it starts from the true district only to be quick.

Random districts (seeded) cover one to four schools, one to all four ways of grouping learners,
one or two metrics, empty and tiny schools, districts below the minimum, metrics no one or
everyone meets, rare sex categories, overlapping race flags, and empty groups left out of the
input the way a GROUP BY leaves them out.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache

import pytest
from suppression_attacks import (
    IntegerAttack,
    K,
    Key,
    Layout,
    Publication,
    assert_partitions_span_every_relation,
    band_slack,
    linear_leaks,
    member,
)

from models.suppression import (
    DEFAULT_RATE_BANDS,
    Cell,
    Dimension,
    Partition,
    RateBand,
    Reason,
    SuppressedCell,
    SuppressionError,
    suppress,
)

SCHOOLS = ("north", "south", "east", "west")
SEXES = ("female", "male", "unspecified", "other")
RACE_FLAGS = ("black", "hispanic", "asian")
METRICS = ("earned_credential", "mastered_competency")


# The district: layouts, learners and their published cells -----------------------------------


GROUP_DIMENSIONS = (
    Dimension("economically_disadvantaged", ("yes", "no")),
    Dimension("english_learner", ("yes", "no")),
    Dimension("sex", SEXES),
    Dimension("race", RACE_FLAGS, exclusive=False),
)


@cache
def school_layout(schools: tuple[str, ...], groups_by: tuple[Dimension, ...]) -> Layout:
    """All learners, each school, each group, each school x group: what the equity marts show."""
    dimensions = (Dimension("school", schools), *groups_by)
    groups: list[Key] = [()]
    groups += [(("school", school),) for school in schools]
    for dimension in dimensions[1:]:
        groups += [((dimension.name, value),) for value in dimension.values]
    for school in schools:
        for dimension in dimensions[1:]:
            groups += [(("school", school), (dimension.name, value)) for value in dimension.values]
    return Layout(dimensions, tuple(groups))


@dataclass
class District:
    """Learners as (attributes, metrics met); the truth every attack is checked against."""

    layout: Layout
    learners: list[tuple[dict[str, object], tuple[bool, ...]]] = field(default_factory=list)
    metrics: tuple[str, ...] = METRICS

    def truth(self) -> dict[Key, tuple[int, dict[str, int]]]:
        sizes: dict[Key, int] = dict.fromkeys(self.layout.groups, 0)
        counts = {key: dict.fromkeys(self.metrics, 0) for key in self.layout.groups}
        for attributes, met in self.learners:
            for key in self.layout.groups:
                if member(key, attributes):
                    sizes[key] += 1
                    for metric, did in zip(self.metrics, met, strict=True):
                        counts[key][metric] += did
        return {key: (sizes[key], counts[key]) for key in self.layout.groups}

    def cells(self, *, drop_empty: bool = False) -> list[Cell]:
        return [
            Cell(dict(key), size, counts)
            for key, (size, counts) in self.truth().items()
            if size or not drop_empty or not key
        ]

    def publish(self, *, drop_empty: bool = False, **settings) -> list[SuppressedCell]:
        """What `suppress` makes of the district's cells (without empty groups, as a GROUP BY)."""
        partitions = [
            Partition(dict(parent), tuple(dict(child) for child in children))
            for parent, children in self.layout.hierarchies
        ]
        cells = self.cells(drop_empty=drop_empty)
        return suppress(cells, self.layout.dimensions, partitions=partitions, **settings)


def random_district(rng: random.Random, *, full: bool = False) -> District:
    """A district drawn to hit the edges: tiny and empty groups, 0% and 100% metrics.

    Most are small (up to three schools, one or two ways of grouping learners, one or two
    metrics), so hundreds run in seconds; a `full` one has four schools, every dimension and
    both metrics.
    """
    schools = SCHOOLS if full else SCHOOLS[: rng.randint(1, 3)]
    groups_by = GROUP_DIMENSIONS
    if not full:
        groups_by = tuple(
            sorted(rng.sample(GROUP_DIMENSIONS, rng.randint(1, 2)), key=GROUP_DIMENSIONS.index)
        )
    metrics = METRICS if full else METRICS[: rng.randint(1, 2)]
    district = District(school_layout(schools, groups_by), metrics=metrics)
    shape = rng.choice(("tiny", "small", "mixed", "mixed", "large"))
    share_ed = rng.choice((0.0, 0.05, 0.3, 0.6, 1.0))
    share_el = rng.choice((0.0, 0.03, 0.15))
    sex_weights = rng.choice(((48, 48, 3, 1), (50, 50, 0, 0), (40, 40, 12, 8)))
    race_share = {flag: rng.choice((0.0, 0.04, 0.2, 0.5)) for flag in RACE_FLAGS}
    metric_share = [rng.choice((0.0, 0.02, 0.3, 0.6, 0.97, 1.0)) for _ in metrics]
    for school in schools:
        size = {
            "tiny": rng.randint(0, 9),
            "small": rng.randint(5, 30),
            "mixed": rng.choice((rng.randint(0, 14), rng.randint(15, 90))),
            "large": rng.randint(40, 120),
        }[shape]
        for _ in range(size):
            ed = "yes" if rng.random() < share_ed else "no"
            attributes = {
                "school": school,
                "economically_disadvantaged": ed,
                "english_learner": "yes" if rng.random() < share_el else "no",
                "sex": rng.choices(SEXES, sex_weights)[0],
                "race": frozenset(f for f in RACE_FLAGS if rng.random() < race_share[f]),
            }
            # Economically disadvantaged learners meet each metric less often: real gaps.
            met = tuple(
                rng.random() < share * (0.5 if ed == "yes" and 0 < share < 1 else 1)
                for share in metric_share
            )
            district.learners.append((attributes, met))
    return district


def district_of(
    layout: Layout, sizes: dict[Key, int], metrics: tuple[str, ...] = ("met",)
) -> District:
    """A district with these learners per innermost group; every other one meets each metric."""
    district = District(layout, metrics=metrics)
    for key, size in sizes.items():
        attributes = dict(key)
        for name, source, pairs in layout.implied:
            attributes[name] = dict(pairs)[attributes[source]]
        for number in range(size):
            met = tuple(number % 2 == 0 for _ in metrics)
            district.learners.append((attributes, met))
    return district


def bound_leaks(district: District, rows: list[SuppressedCell], **rule) -> list[str]:
    publication = Publication.of(district.layout, rows)
    return IntegerAttack(publication, district.truth(), **rule).leaks()


# Reading results -------------------------------------------------------------------------------


def hidden(rows: list[SuppressedCell], metric: str | None = None) -> dict[Key, Reason]:
    """Groups whose size is hidden, with why."""
    metric = metric or rows[0].metric
    return {
        tuple(row.group.items()): row.reason
        for row in rows
        if row.metric == metric and row.size is None
    }


def row_of(rows: list[SuppressedCell], metric: str = "met", **group: str) -> SuppressedCell:
    (row,) = [r for r in rows if r.group == group and r.metric == metric]
    return row


def one_dimension(name: str, values: tuple[str, ...], sizes: tuple[int, ...]) -> District:
    """All learners split one way, nothing else: the smallest partition."""
    layout = Layout((Dimension(name, values),), ((), *(((name, v),) for v in values)))
    return district_of(layout, {((name, v),): n for v, n in zip(values, sizes, strict=True)})


def assert_safe(district: District, rows: list[SuppressedCell], **rule) -> None:
    publication = Publication.of(district.layout, rows)
    assert linear_leaks(publication) == []
    assert bound_leaks(district, rows, **rule) == []


# Known answers: the primary rule ----------------------------------------------------------------


def test_a_group_under_the_minimum_and_its_only_sibling_are_hidden_the_total_is_shown():
    district = one_dimension("economically_disadvantaged", ("yes", "no"), (4, 30))
    rows = district.publish()
    assert hidden(rows) == {
        (("economically_disadvantaged", "yes"),): Reason.PRIMARY,
        (("economically_disadvantaged", "no"),): Reason.COMPLEMENTARY,
    }
    assert row_of(rows).size == 34
    assert_safe(district, rows)


def test_a_hidden_group_shows_nothing_in_any_metric():
    layout = Layout(
        (Dimension("english_learner", ("yes", "no")),),
        ((), (("english_learner", "yes"),), (("english_learner", "no"),)),
    )
    district = district_of(
        layout, {(("english_learner", "yes"),): 3, (("english_learner", "no"),): 40}, METRICS
    )
    for row in district.publish():
        if row.group:
            assert (row.size, row.count, row.rate, row.gap, row.rate_range) == (None,) * 5


def test_a_district_smaller_than_the_minimum_shows_nothing_at_all():
    district = one_dimension("sex", SEXES, (4, 3, 1, 0))
    rows = district.publish()
    assert all(row.size is None and row.reason is Reason.PRIMARY for row in rows)
    assert_safe(district, rows)


def test_a_group_missing_from_a_partition_comes_back_as_an_empty_suppressed_group():
    dimensions = (Dimension("sex", SEXES),)
    cells = [
        Cell({}, 42, {"met": 20}),
        Cell({"sex": "female"}, 22, {"met": 10}),
        Cell({"sex": "male"}, 20, {"met": 10}),
    ]
    rows = suppress(cells, dimensions)
    assert row_of(rows, sex="other").reason is Reason.PRIMARY
    assert row_of(rows, sex="unspecified").reason is Reason.PRIMARY
    # Two empty groups alone would both be recomputed as 0: the smaller of the others joins them.
    assert row_of(rows, sex="male").reason is Reason.COMPLEMENTARY
    assert row_of(rows, sex="female").size == 22


# Known answers: the complementary rule and its audit ---------------------------------------------


def test_two_small_groups_that_hide_each_other_need_no_third():
    district = one_dimension("sex", SEXES, (20, 15, 3, 2))
    rows = district.publish()
    assert hidden(rows) == {
        (("sex", "unspecified"),): Reason.PRIMARY,
        (("sex", "other"),): Reason.PRIMARY,
    }
    assert_safe(district, rows)


def test_two_empty_groups_get_the_next_smallest_group_hidden_beside_them():
    district = one_dimension("sex", SEXES, (20, 15, 0, 0))
    rows = district.publish()
    assert hidden(rows)[(("sex", "male"),)] is Reason.COMPLEMENTARY
    assert row_of(rows, sex="female").size == 20
    assert_safe(district, rows)


def test_a_complement_of_exactly_the_minimum_beside_an_empty_group_gets_a_second_one():
    # program a is empty; b, its complement, has exactly 10: a published "complementary" means
    # at least 10, so a + b = 10 would give a = 0 and b = 10 away. The audit hides c too.
    district = one_dimension("program", ("a", "b", "c"), (0, 10, 40))
    rows = district.publish()
    assert hidden(rows) == {
        (("program", "a"),): Reason.PRIMARY,
        (("program", "b"),): Reason.COMPLEMENTARY,
        (("program", "c"),): Reason.COMPLEMENTARY,
    }
    assert row_of(rows).size == 50
    assert_safe(district, rows)


def two_way_layout(schools: tuple[str, ...], name: str, values: tuple[str, ...]) -> Layout:
    groups: list[Key] = [(), *((("school", s),) for s in schools), *(((name, v),) for v in values)]
    groups += [(("school", s), (name, v)) for s in schools for v in values]
    return Layout((Dimension("school", schools), Dimension(name, values)), tuple(groups))


def test_a_small_group_at_one_school_hides_a_rectangle_of_the_school_by_group_table():
    layout = two_way_layout(("s1", "s2", "s3"), "economically_disadvantaged", ("yes", "no"))
    sizes = {("s1", "yes"): 4, ("s1", "no"): 46, ("s2", "yes"): 20, ("s2", "no"): 20}
    sizes |= {("s3", "yes"): 15, ("s3", "no"): 15}
    district = district_of(
        layout,
        {(("school", s), ("economically_disadvantaged", v)): n for (s, v), n in sizes.items()},
    )
    rows = district.publish()
    assert hidden(rows) == {
        (("school", "s1"), ("economically_disadvantaged", "yes")): Reason.PRIMARY,
        (("school", "s1"), ("economically_disadvantaged", "no")): Reason.COMPLEMENTARY,
        (("school", "s3"), ("economically_disadvantaged", "yes")): Reason.COMPLEMENTARY,
        (("school", "s3"), ("economically_disadvantaged", "no")): Reason.COMPLEMENTARY,
    }
    assert_safe(district, rows)


BRIDGE = {  # school -> sizes by sex (female, male, unspecified, other)
    "s1": (3, 4, 5, 60),
    "s2": (2, 6, 30, 40),
    "s3": (50, 45, 7, 8),
    "s4": (40, 35, 1, 9),
}


def bridge_district() -> District:
    # Every row and column with a small cell has at least two, so the classic rule adds nothing,
    # yet (s1, unspecified) joins two hidden blocks and is their rows minus their columns.
    layout = two_way_layout(tuple(BRIDGE), "sex", SEXES)
    sizes = {
        (("school", school), ("sex", sex)): n
        for school, by_sex in BRIDGE.items()
        for sex, n in zip(SEXES, by_sex, strict=True)
    }
    return district_of(layout, sizes)


def test_a_small_group_bridging_two_hidden_blocks_gets_one_more_complement():
    district = bridge_district()
    rows = district.publish()
    complements = {key for key, reason in hidden(rows).items() if reason is Reason.COMPLEMENTARY}
    assert complements == {(("school", "s2"), ("sex", "unspecified"))}
    assert_safe(district, rows)


def test_a_race_flag_hidden_at_one_school_is_complemented_at_another_school():
    schools = ("s1", "s2", "s3")
    layout = Layout(
        (Dimension("school", schools), Dimension("race", ("black",), exclusive=False)),
        (
            (),
            *((("school", s),) for s in schools),
            (("race", "black"),),
            *((("school", s), ("race", "black")) for s in schools),
        ),
    )
    district = District(layout, metrics=("met",))
    for school, total, black in (("s1", 40, 3), ("s2", 50, 12), ("s3", 60, 25)):
        for number in range(total):
            race = frozenset({"black"}) if number < black else frozenset()
            district.learners.append(({"school": school, "race": race}, (number % 2 == 0,)))
    rows = district.publish()
    assert hidden(rows) == {
        (("school", "s1"), ("race", "black")): Reason.PRIMARY,
        (("school", "s2"), ("race", "black")): Reason.COMPLEMENTARY,
    }
    # The flag group is only a subset of its school, not a part of it: the school stays shown.
    assert row_of(rows, school="s1").size == 40
    assert_safe(district, rows)


def test_a_declared_hierarchy_is_protected_like_a_dimension():
    grades = {"k": "elementary", "1": "elementary", "6": "middle", "7": "middle"}
    layout = Layout(
        (Dimension("band", ("elementary", "middle")), Dimension("grade", tuple(grades))),
        (
            (),
            (("band", "elementary"),),
            (("band", "middle"),),
            *((("grade", g),) for g in grades),
        ),
        hierarchies=tuple(
            ((("band", band),), tuple((("grade", g),) for g, b in grades.items() if b == band))
            for band in ("elementary", "middle")
        ),
        implied=(("band", "grade", tuple((g, b) for g, b in grades.items())),),
    )
    district = district_of(
        layout, {(("grade", g),): n for g, n in zip(grades, (25, 4, 30, 30), strict=True)}
    )
    rows = district.publish()
    assert hidden(rows) == {
        (("grade", "1"),): Reason.PRIMARY,
        (("grade", "k"),): Reason.COMPLEMENTARY,
    }
    assert_safe(district, rows)


# Known answers: the numerator rule ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "count", "coded"),
    [
        (10, 2, (0.0, 0.2)),
        (10, 3, None),
        (10, 8, (0.8, 1.0)),
        (19, 3, (0.0, 0.2)),
        (20, 2, (0.0, 0.1)),
        (20, 3, None),
        (40, 0, (0.0, 0.05)),
        (40, 2, (0.0, 0.05)),
        (40, 3, None),
        (40, 38, (0.95, 1.0)),
        (40, 37, None),
        (100, 2, (0.0, 0.02)),
        (100, 3, None),
        (300, 3, (0.0, 0.01)),
        (300, 4, None),
        (300, 300, (0.99, 1.0)),
    ],
)
def test_rates_near_0_or_100_percent_are_shown_only_as_a_range_that_narrows_as_groups_grow(
    size, count, coded
):
    rows = suppress([Cell({}, size, {"met": count})], [])
    (row,) = rows
    assert row.size == size
    assert row.rate_range == coded
    if coded:
        assert (row.count, row.rate, row.gap, row.reason) == (
            None,
            None,
            None,
            Reason.TOP_BOTTOM_CODED,
        )
    else:
        assert (row.count, row.rate) == (count, count / size)


def test_no_one_or_everyone_meeting_a_metric_is_coded_and_its_sibling_count_hidden_too():
    layout = Layout(
        (Dimension("english_learner", ("yes", "no")),),
        ((), (("english_learner", "yes"),), (("english_learner", "no"),)),
    )
    district = District(layout, metrics=("met",))
    district.learners += [({"english_learner": "yes"}, (False,))] * 40
    for number in range(60):
        district.learners.append(({"english_learner": "no"}, (number < 30,)))
    rows = district.publish()
    english = row_of(rows, english_learner="yes")
    assert (english.size, english.count, english.rate_range) == (40, None, (0.0, 0.05))
    others = row_of(rows, english_learner="no")
    assert (others.size, others.count, others.reason) == (60, None, Reason.COMPLEMENTARY)
    assert row_of(rows).count == 30
    assert_safe(district, rows)


def test_a_coded_count_hides_that_metric_only_while_a_small_group_hides_every_metric():
    layout = Layout(
        (Dimension("english_learner", ("yes", "no")),),
        ((), (("english_learner", "yes"),), (("english_learner", "no"),)),
    )
    district = District(layout)
    district.learners += [({"english_learner": "yes"}, (False, n < 20)) for n in range(40)]
    district.learners += [({"english_learner": "no"}, (n < 30, n < 30)) for n in range(60)]
    rows = district.publish()
    credential = row_of(rows, "earned_credential", english_learner="yes")
    competency = row_of(rows, "mastered_competency", english_learner="yes")
    assert (credential.size, credential.count, credential.reason) == (
        40,
        None,
        Reason.TOP_BOTTOM_CODED,
    )
    assert (competency.size, competency.count, competency.reason) == (40, 20, None)
    assert_safe(district, rows)

    small = one_dimension("english_learner", ("yes", "no"), (6, 60))
    small.metrics = METRICS
    small.learners = [(attributes, (True, False)) for attributes, _ in small.learners]
    for metric in METRICS:
        assert row_of(small.publish(), metric, english_learner="yes").size is None


@pytest.mark.parametrize("seed", range(20))
def test_a_gap_is_shown_only_beside_a_shown_reference_rate(seed):
    district, rows = published(seed)
    by_group = {(district.layout.key(row.group), row.metric): row for row in rows}
    for row in rows:
        if row.gap is None or not row.group:
            continue
        reference = by_group[district.layout.key(row.group)[:-1], row.metric]
        assert reference.rate is not None
        assert row.gap == pytest.approx(row.rate - reference.rate)


def test_a_gap_is_hidden_when_its_reference_rate_is_only_shown_as_a_range():
    layout = Layout(
        (Dimension("english_learner", ("yes", "no")),),
        ((), (("english_learner", "yes"),), (("english_learner", "no"),)),
    )
    district = District(layout, metrics=("met",))
    district.learners += [({"english_learner": "yes"}, (n < 3,)) for n in range(40)]
    district.learners += [({"english_learner": "no"}, (False,)) for n in range(960)]
    rows = district.publish()
    assert row_of(rows).rate_range == (0.0, 0.01)
    english = row_of(rows, english_learner="yes")
    assert (english.count, english.gap, english.reason) == (3, None, Reason.REFERENCE_SUPPRESSED)
    assert_safe(district, rows)


def test_a_rate_band_whose_range_would_mean_no_one_is_refused():
    with pytest.raises(SuppressionError, match="no one"):
        suppress([Cell({}, 15, {"met": 1})], [], rate_bands=[RateBand(10, 5)])


# Known answers: the input must describe real groups -------------------------------------------


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([Cell({"sex": "male"}, 12, {"met": 1})], "all-learners"),
        ([Cell({}, 12, {"met": 13})], "not within"),
        ([Cell({}, 12, {"met": 1}), Cell({"sex": "robot"}, 1, {"met": 0})], "declared value"),
        ([Cell({}, 12, {"met": 1}), Cell({"grade": "k"}, 1, {"met": 0})], "undeclared"),
        ([Cell({}, 12, {"met": 1}), Cell({}, 12, {"met": 1})], "twice"),
        ([Cell({}, 12, {"met": 1}), Cell({"sex": "male"}, 13, {"met": 1})], "add up"),
        ([Cell({}, 12, {"met": 1}), Cell({"sex": "male"}, 12, {"other": 1})], "metrics"),
    ],
)
def test_cells_that_do_not_describe_consistent_groups_are_refused(cells, message):
    with pytest.raises(SuppressionError, match=message):
        suppress(cells, [Dimension("sex", SEXES)])


def test_a_missing_race_flag_row_comes_back_suppressed_so_its_absence_says_nothing():
    dimensions = (Dimension("race", RACE_FLAGS, exclusive=False),)
    rows = suppress(
        [Cell({}, 30, {"met": 15}), Cell({"race": "black"}, 12, {"met": 6})], dimensions
    )
    assert row_of(rows, race="asian").reason is Reason.PRIMARY
    assert row_of(rows, race="hispanic").reason is Reason.PRIMARY
    assert row_of(rows, race="black").size == 12


def test_a_grouping_sets_row_names_its_unused_dimensions_with_none():
    dimensions = (Dimension("school", ("north", "south")), Dimension("sex", ("female", "male")))
    cells = [
        Cell({"school": None, "sex": None}, 40, {"met": 20}),
        Cell({"school": "north", "sex": None}, 20, {"met": 10}),
        Cell({"school": "south", "sex": None}, 20, {"met": 10}),
    ]
    rows = suppress(cells, dimensions)
    assert [row.group for row in rows] == [{}, {"school": "north"}, {"school": "south"}]
    assert [row.size for row in rows] == [40, 20, 20]


def test_the_same_cells_in_any_order_give_the_same_rows():
    district = random_district(random.Random(3))
    cells = district.cells(drop_empty=True)
    shuffled = cells[:]
    random.Random(1).shuffle(shuffled)
    assert suppress(cells, district.layout.dimensions) == suppress(
        shuffled, district.layout.dimensions
    )


# The adversaries are not vacuous ----------------------------------------------------------------


def reveal(district: District, rows: list[SuppressedCell], **group: str) -> list[SuppressedCell]:
    """The rows with one hidden group shown as it truly is, as a careless rule would."""
    size, counts = district.truth()[district.layout.key(group)]
    return [
        SuppressedCell(r.group, r.metric, size, counts[r.metric], None, None, None, None)
        if r.group == group
        else r
        for r in rows
    ]


def test_the_linear_attack_recomputes_a_small_group_from_the_total_and_its_sibling():
    district = one_dimension("economically_disadvantaged", ("yes", "no"), (4, 30))
    rows = reveal(district, district.publish(), economically_disadvantaged="no")
    leaks = linear_leaks(Publication.of(district.layout, rows))
    assert "size of (('economically_disadvantaged', 'yes'),)" in leaks


def test_the_linear_attack_finds_the_bridge_the_classic_rule_leaves():
    district = bridge_district()
    rows = reveal(district, district.publish(), school="s2", sex="unspecified")
    leaks = linear_leaks(Publication.of(district.layout, rows))
    assert "size of (('school', 's1'), ('sex', 'unspecified'))" in leaks


def test_the_integer_attack_pins_an_empty_group_beside_a_complement_of_exactly_the_minimum():
    district = one_dimension("program", ("a", "b", "c"), (0, 10, 40))
    rows = reveal(district, district.publish(), program="c")
    assert linear_leaks(Publication.of(district.layout, rows)) == []  # equalities alone: safe
    leaks = bound_leaks(district, rows)
    assert "('n', (('program', 'a'),)) recomputed as 0" in leaks


def coded_total_district() -> District:
    # 3 of 300 learners met the metric, all of them among the 40 English learners: the total
    # is coded "<= 1%" (at most 3), so a shown 3 would leave no one among the other 260.
    layout = Layout(
        (Dimension("english_learner", ("yes", "no")),),
        ((), (("english_learner", "yes"),), (("english_learner", "no"),)),
    )
    district = District(layout, metrics=("met",))
    district.learners += [({"english_learner": "yes"}, (n < 3,)) for n in range(40)]
    district.learners += [({"english_learner": "no"}, (False,)) for n in range(260)]
    return district


def test_a_count_that_would_pin_a_coded_sibling_to_no_one_is_hidden_with_the_groups_sizes():
    district = coded_total_district()
    rows = district.publish()
    # Hiding just the 3 would not do: a complementary count is known not to be coded, so at
    # least 3 of 40, which the total's "at most 3" pins. Both groups' sizes go instead.
    assert hidden(rows) == {
        (("english_learner", "yes"),): Reason.COMPLEMENTARY,
        (("english_learner", "no"),): Reason.COMPLEMENTARY,
    }
    assert row_of(rows).rate_range == (0.0, 0.01)
    assert_safe(district, rows)


def test_the_integer_attack_sees_no_one_in_a_group_beside_a_coded_total():
    district = coded_total_district()
    coded = Reason.TOP_BOTTOM_CODED
    rows = [  # what the classic rules alone would publish
        SuppressedCell({}, "met", 300, None, None, None, (0.0, 0.01), coded),
        SuppressedCell({"english_learner": "yes"}, "met", 40, 3, 3 / 40, None, None, None),
        SuppressedCell({"english_learner": "no"}, "met", 260, None, None, None, (0.0, 0.02), coded),
    ]
    assert linear_leaks(Publication.of(district.layout, rows)) == []  # equalities alone: safe
    leaks = bound_leaks(district, rows)
    no_one = "('c', 'met', (('english_learner', 'no'),)): no one in the group meets the metric"
    assert no_one in leaks


# Random districts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("schools", [1, 2, 4])
def test_the_attacks_partitions_span_every_relation_between_published_groups(schools):
    layout = school_layout(SCHOOLS[:schools], GROUP_DIMENSIONS)
    assert_partitions_span_every_relation(layout, list(layout.groups))


# Seeds of small random districts, then of full ones (every dimension, four schools).
SEEDS = [*range(150), *(("full", seed) for seed in range(6))]


@cache
def published(seed: int | tuple[str, int]) -> tuple[District, list[SuppressedCell]]:
    """Random district `seed` and what `suppress` publishes of it, computed once."""
    if isinstance(seed, tuple):
        district = random_district(random.Random(seed[1]), full=True)
    else:
        district = random_district(random.Random(seed))
    # Half of them come without their empty groups, as a GROUP BY would give them.
    number = seed[1] if isinstance(seed, tuple) else seed
    return district, district.publish(drop_empty=number % 2 == 1)


@pytest.mark.parametrize("seed", SEEDS)
def test_no_hidden_number_of_a_random_district_can_be_recomputed(seed):
    district, rows = published(seed)
    assert_safe(district, rows)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_random_district_shows_only_true_numbers_and_never_a_small_group(seed):
    district, rows = published(seed)
    truth = district.truth()
    sizes_by_group: dict[Key, set] = defaultdict(set)
    for row in rows:
        key = district.layout.key(row.group)
        size, counts = truth[key]
        sizes_by_group[key].add(row.size)
        if size < K:
            assert row.size is None and row.reason is Reason.PRIMARY
        if row.size is None:
            assert (row.count, row.rate, row.gap, row.rate_range) == (None,) * 4
            continue
        assert row.size == size >= K
        slack = band_slack(size, DEFAULT_RATE_BANDS)
        coded = counts[row.metric] <= slack or size - counts[row.metric] <= slack
        assert (row.reason is Reason.TOP_BOTTOM_CODED) == coded
        if coded:
            low, high = row.rate_range
            assert low <= counts[row.metric] / size <= high
        if row.count is not None:
            assert row.count == counts[row.metric]
            assert row.rate == counts[row.metric] / size
    # One size per group across metrics: shown in all of them or hidden in all of them.
    assert all(len(sizes) == 1 for sizes in sizes_by_group.values())
