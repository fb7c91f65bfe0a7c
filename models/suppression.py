"""Small-cell suppression for the equity lens: what of each group's numbers may be published.

The equity tables publish, for every learner metric (micro-credentials earned, competencies
mastered, device access, ...), one row per group of learners (all learners, each school, each
group furthest from opportunity, each school x group) with the group's size (learners in it),
count (learners in it meeting the metric), rate (count / size) and gap (rate minus the rate of
the group's reference: a school's English learners against all of that school's learners, the
district's against all of the district's). `suppress` decides, for one night's rows of every
metric at once, which of those numbers may be shown and why the others are not. It is plain
Python for a mart asset to call on a few thousand aggregated cells; it reads and writes nothing.

The rule
--------
1. Primary suppression. A group of fewer than `min_group_size` learners (default 10, the minimum
   n most states use; NCES 2011-603, SLDS Technical Brief 3) shows nothing in any metric: size,
   count, rate and gap are hidden. A group with no learners is such a group, and one missing
   from the input comes back as one (an absent row would say "none").
2. Numerator rule: top/bottom coding, as NCES 2011-603 recommends and state and district
   reporting rules do. In a shown group, a rate at or below p% or at or above (100 - p)% is shown
   only as that range ("<= 5%", ">= 95%"); its count and gap are hidden. p shrinks as groups grow
   (`DEFAULT_RATE_BANDS`), so no count of 0, none equal to the size, and none within a couple of
   learners of either is ever shown. Every band must leave at least two possible counts in its
   range, or the range itself would say "no one" or "everyone" (a flat 5% does, for 15 learners).
3. Complementary suppression. Groups that partition another group -- the values of an exclusive
   dimension (a yes/no flag, sex, school) inside any published group, and any hierarchy declared
   with `Partition` -- add up to it, in sizes and in every metric's counts. While a partition has
   exactly one hidden member, its smallest other shown member is hidden too (ties: children
   before the parent, then dimension and value order). A hidden size hides the group in every
   metric, so a size is never shown in one metric and hidden in another; a coded count is
   complemented by another group's count in that metric alone.
4. Audit. That classic rule is necessary, not sufficient: in a school x group table hidden cells
   can chain so that one is the sum of published ones, and bounds leak too (a school of exactly
   10 learners with an empty "no" group: "yes" is at least 10 and "no" at least 0, so both are
   pinned). So every hidden value must then earn a certificate: an alternative district -- whole
   numbers meeting every published number, every partition and flag subset, and every bound a
   reason implies -- in which it differs; and for a hidden count, one in which at least one
   learner of the group meets the metric and one in which at least one does not (else the table
   says "no one" or "everyone"). Every value left without one gets the smallest shown value next
   to it hidden (a count before a size; all chosen against the table as the round found it, so
   values sharing a neighbour hide it once), and the audit runs again; it ends, as each round
   hides at least one more value. Certificates found stay valid in later rounds (hiding more
   only removes published numbers), so only the values still uncertified are searched again.

Non-exclusive dimensions (race and ethnicity flags: a learner may carry several, or none) are
not partitions: a flag group is only known to be a subset of its parent, which the audit uses as
an inequality. Publish each flag's "yes" group; a "not X" group turns the flag into a yes/no
partition, so declare that flag as its own exclusive dimension instead.

The search for certificates starts from the true district and stays near it. A value the
partitions alone determine (Gauss-Jordan elimination) fails at once. A size is searched among the
sizes alone -- a relaxation, so a size without an alternative there has none at all -- and the
move found is then carried into each metric on its own, sizes and metrics meeting only in
count + non-count = size; a count is searched within its metric with the sizes fixed, then with
its group's size moved; everything at once is the last resort. Each search is depth first with
bound propagation and a node budget (`max_search_nodes`); every certificate is checked against
every constraint before it counts. A search that runs out of budget counts as a failure: more
suppression, never less.

Guarantee
---------
Take an attacker who knows every shown size, count, rate, range and gap of every metric; that a
group's size is the same in every metric; every partition and flag subset; that 0 <= count <=
size; and the rule itself, including what each reason says: a `primary` group has fewer than
`min_group_size` learners, a `complementary` one at least that many, a coded count lies inside
its range and a complementary count outside it. From all that they cannot recompute any hidden
size, count or non-count (each has at least two possible values), nor conclude of any hidden
count that no one, or everyone, in the group met the metric. The certificates are the proof.

Limits
------
- "Not recomputable" is the standard of state reporting rules, not "not narrowed": an attacker
  may still bound a hidden value ("this school has 0 or 1 English learners"). A higher
  `min_group_size` widens the ranges.
- The attacker works with the tables' arithmetic. One who also insists the numbers come from a
  single list of learners gains nothing when one metric is published by school x one dimension
  at a time (such numbers always come from some list), but could in principle rule out some
  alternatives across several metrics and dimensions at once, or in deeper cross-tabulations
  (school x economically disadvantaged x English learners); the audit does not check that.
- An attacker who re-runs this rule on candidate districts learns what its choices imply: a
  complement was the smallest shown candidate; an extra one means the first was pinned.
  Dashboards that mark `primary` and `complementary` alike give them less to work with.
- External knowledge is outside the model: a published enrollment (NCES CCD, the state report
  card) for a hidden total; a learner or teacher who knows some members' status and subtracts
  them; a relation between metrics (every credential earner also mastered a competency) or
  between groups (a "two or more races" group beside the single flags) the caller did not
  declare.
- Each night is protected on its own. Two nights' tables differ by the learners who came, left
  or earned something in between; publish a fixed snapshot, not nightly deltas, where that
  matters.
- Cost, in CPU seconds on the equity mart's real cells (7 metrics; `max_search_nodes` 2,000 as
  the mart passes, since a budget too small hides more and starts more rounds): 20,000 learners
  (33 schools) 14 s, 50,000 (80 schools) 82 s, 100,000 about 9 minutes. A search's cost grows
  with the number of schools (every district-level group constraint has a term per school), so
  the total grows about with schools squared; very large districts are the open cost.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_MIN_GROUP_SIZE = 10
# A count's certificate is first searched among its own school and this many others most tied
# to it (then among every school): see `_Audit._near`.
_NEARBY_SCHOOLS = 3

_Key = tuple[tuple[str, str], ...]


class Reason(StrEnum):
    """Why a number of a published row is hidden, for the dashboard to mark it."""

    PRIMARY = "primary"  # the group has fewer than min_group_size learners
    COMPLEMENTARY = "complementary"  # hidden so that another hidden number cannot be recomputed
    TOP_BOTTOM_CODED = "top_bottom_coded"  # the rate is shown only as a range near 0% or 100%
    REFERENCE_SUPPRESSED = "reference_suppressed"  # everything shown but the gap: its reference is


@dataclass(frozen=True)
class Dimension:
    """A way of grouping learners: a school, a program flag, sex, race and ethnicity flags.

    `exclusive` means every learner has exactly one of `values` (a partition: schools, yes/no
    flags, sex categories); include an `unknown` value if the data has learners without one.
    A non-exclusive dimension (race flags) lets a learner be in several values or none.
    """

    name: str
    values: tuple[str, ...]
    exclusive: bool = True


@dataclass(frozen=True)
class RateBand:
    """From `min_size` learners up, a rate within `percent`% of 0 or 100 is shown as a range."""

    min_size: int
    percent: int


# Sliding bands as NCES 2011-603 recommends (Clark County School District, Utah, publishes the
# same from 40 learners up: 5% under 100, 2% under 300, 1% from 300); the two smallest bands are
# ours, chosen so that each band's smallest group keeps at least three possible counts in its
# range: floor(percent x min_size / 100) >= 2.
DEFAULT_RATE_BANDS = (
    RateBand(10, 20),
    RateBand(20, 10),
    RateBand(40, 5),
    RateBand(100, 2),
    RateBand(300, 1),
)


@dataclass(frozen=True)
class Cell:
    """One group's numbers for one night: its size and its count in every metric.

    `group` maps a dimension name to a value, e.g. `{"school": "lincoln", "english_learner":
    "yes"}`; `{}` is all learners. Entries whose value is None are ignored, so a row of a
    `GROUP BY GROUPING SETS` query can be passed as it is.
    """

    group: Mapping[str, str | None]
    size: int
    counts: Mapping[str, int]


@dataclass(frozen=True)
class Partition:
    """A hierarchy beyond the dimensions: `parent`'s learners are exactly those of its children.

    E.g. a grade band and its grades. Partitions by an exclusive dimension are found on their
    own; declare only the others.
    """

    parent: Mapping[str, str | None]
    children: tuple[Mapping[str, str | None], ...]


@dataclass(frozen=True)
class SuppressedCell:
    """What a dashboard may show of one group in one metric, and why the rest is hidden.

    None means hidden. `rate_range` is set when the rate is shown only as a range, e.g.
    (0.0, 0.05) for "<= 5%". `reason` says why something is hidden, None when nothing is.
    """

    group: dict[str, str]
    metric: str
    size: int | None
    count: int | None
    rate: float | None
    gap: float | None
    rate_range: tuple[float, float] | None
    reason: Reason | None


class SuppressionError(ValueError):
    """The cells do not describe a consistent set of groups, or the settings are unsafe."""


def suppress(
    cells: Iterable[Cell],
    dimensions: Sequence[Dimension],
    *,
    partitions: Iterable[Partition] = (),
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    rate_bands: Sequence[RateBand] = DEFAULT_RATE_BANDS,
    max_search_nodes: int = 200,
) -> list[SuppressedCell]:
    """What may be shown of every group in every metric, so no hidden number can be recomputed.

    Pass every group and every metric published together: sizes are decided once for all
    metrics. Declare scope dimensions (school) before group dimensions: a group's gap is to the
    group without its last dimension (school x English learners -> the school). Groups missing
    from a partition whose parent is published are taken to be empty and come back suppressed.
    Returns one row per group and metric, in dimension and value order; the same input always
    gives the same output.
    """
    return _protected(
        cells,
        dimensions,
        partitions=partitions,
        min_group_size=min_group_size,
        rate_bands=rate_bands,
        max_search_nodes=max_search_nodes,
    ).rows()


def _protected(
    cells: Iterable[Cell],
    dimensions: Sequence[Dimension],
    *,
    partitions: Iterable[Partition] = (),
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    rate_bands: Sequence[RateBand] = DEFAULT_RATE_BANDS,
    max_search_nodes: int = 200,
) -> _State:
    """`suppress`'s decisions with what they cost (`rounds`, search `nodes`), for tests and
    benchmarks."""
    if min_group_size < 1:
        raise SuppressionError(f"min_group_size must be at least 1, not {min_group_size}")
    bands = _checked_bands(rate_bands, min_group_size)
    table = _Table(list(cells), dimensions, list(partitions))
    state = _State(table, min_group_size, bands)
    state.protect(max_search_nodes)
    return state


def checked_rate_bands(
    rate_bands: Sequence[RateBand], min_group_size: int = DEFAULT_MIN_GROUP_SIZE
) -> tuple[RateBand, ...]:
    """The bands in size order; SuppressionError when a band would say "no one" or "everyone".

    What `suppress` checks first, for a configuration to check at load time.
    """
    return _checked_bands(rate_bands, min_group_size)


def _checked_bands(rate_bands: Sequence[RateBand], min_group_size: int) -> tuple[RateBand, ...]:
    bands = tuple(sorted(rate_bands, key=lambda band: band.min_size))
    if not bands:
        raise SuppressionError("rate_bands is empty: counts of 0 and of everyone would be shown")
    if len({band.min_size for band in bands}) != len(bands):
        raise SuppressionError("two rate bands start at the same group size")
    for position, band in enumerate(bands):
        if not 0 < band.percent < 50:
            raise SuppressionError(f"rate band percent must be between 0 and 50: {band}")
        # The smallest band also covers shown groups below its start.
        smallest = band.min_size if position else min(band.min_size, min_group_size)
        if band.percent * smallest // 100 < 1:
            raise SuppressionError(
                f"{band} would show a group of {smallest} learners as 'at most {band.percent}%', "
                "which means no one: widen the band, or raise its min_size or min_group_size"
            )
    return bands


class _Table:
    """The cells as indexed groups, with the partitions and flag subsets that tie them."""

    def __init__(
        self, cells: list[Cell], dimensions: Sequence[Dimension], partitions: list[Partition]
    ) -> None:
        self.dimensions = {dimension.name: dimension for dimension in dimensions}
        if len(self.dimensions) != len(dimensions):
            raise SuppressionError("two dimensions share a name")
        self._dimension_rank = {name: rank for rank, name in enumerate(self.dimensions)}
        self._value_rank = {
            name: {value: rank for rank, value in enumerate(dimension.values)}
            for name, dimension in self.dimensions.items()
        }
        for dimension in dimensions:
            if len(self._value_rank[dimension.name]) != len(dimension.values):
                raise SuppressionError(f"dimension {dimension.name!r} repeats a value")
        if not cells:
            raise SuppressionError("no cells: the all-learners row is required")
        self.metrics = tuple(cells[0].counts)
        self.keys: list[_Key] = []
        self.sizes: list[int] = []
        self.counts: dict[str, list[int]] = {metric: [] for metric in self.metrics}
        self.index: dict[_Key, int] = {}
        for cell in cells:
            self._add(self.key(cell.group), cell.size, cell.counts)
        if () not in self.index:
            raise SuppressionError("the all-learners row (group {}) is missing")
        self._fill_empty_groups()
        self.partitions = self._dimension_partitions()
        for partition in partitions:
            self._declare(partition)
        self.subsets = self._flag_subsets()
        order = sorted(range(len(self.keys)), key=lambda i: self.sort_key(self.keys[i]))
        self.rank = [0] * len(self.keys)
        for rank, i in enumerate(order):
            self.rank[i] = rank
        self.order = order

    def key(self, group: Mapping[str, str | None]) -> _Key:
        pairs = []
        for name, value in group.items():
            if value is None:
                continue
            if name not in self.dimensions:
                raise SuppressionError(
                    f"group {dict(group)} names an undeclared dimension {name!r}"
                )
            if value not in self._value_rank[name]:
                raise SuppressionError(f"{value!r} is not a declared value of {name!r}")
            pairs.append((name, value))
        return tuple(sorted(pairs, key=lambda pair: self._dimension_rank[pair[0]]))

    def sort_key(self, key: _Key) -> tuple[int, tuple[tuple[int, int], ...]]:
        return len(key), tuple(
            (self._dimension_rank[name], self._value_rank[name][value]) for name, value in key
        )

    def _add(self, key: _Key, size: int, counts: Mapping[str, int]) -> None:
        if key in self.index:
            raise SuppressionError(f"group {dict(key)} appears twice")
        if set(counts) != set(self.metrics):
            raise SuppressionError(
                f"group {dict(key)} has metrics {sorted(counts)}, not {sorted(self.metrics)}"
            )
        if not isinstance(size, int) or size < 0:
            raise SuppressionError(f"group {dict(key)} has size {size!r}")
        for metric in self.metrics:
            count = counts[metric]
            if not isinstance(count, int) or not 0 <= count <= size:
                raise SuppressionError(
                    f"group {dict(key)} counts {count!r} for {metric!r}, not within 0..{size}"
                )
            self.counts[metric].append(count)
        self.index[key] = len(self.keys)
        self.keys.append(key)
        self.sizes.append(size)

    def _with(self, key: _Key, name: str, value: str) -> _Key:
        return tuple(sorted((*key, (name, value)), key=lambda pair: self._dimension_rank[pair[0]]))

    def _split_parents(self, *, exclusive: bool) -> list[tuple[_Key, str]]:
        """(parent, dimension) for every published group split by a dimension (or an exclusive
        one) into published groups."""
        found = set()
        for key in self.keys:
            for pair in key:
                if self.dimensions[pair[0]].exclusive or not exclusive:
                    parent = tuple(other for other in key if other != pair)
                    if parent in self.index:
                        found.add((parent, pair[0]))
        return sorted(found, key=lambda item: (self.sort_key(item[0]), item[1]))

    def _fill_empty_groups(self) -> None:
        # A GROUP BY has no row for an empty group, and a missing row says "none": every value
        # of a dimension a published group is split by gets a row, shown as suppressed.
        zero = dict.fromkeys(self.metrics, 0)
        added = True
        while added:
            added = False
            for parent, name in self._split_parents(exclusive=False):
                for value in self.dimensions[name].values:
                    child = self._with(parent, name, value)
                    if child not in self.index:
                        self._add(child, 0, zero)
                        added = True

    def _dimension_partitions(self) -> list[tuple[int, tuple[int, ...]]]:
        found = []
        for parent, name in self._split_parents(exclusive=True):
            children = tuple(
                self.index[self._with(parent, name, value)]
                for value in self.dimensions[name].values
            )
            found.append(self._checked(self.index[parent], children, f"by {name!r}"))
        return found

    def _declare(self, partition: Partition) -> None:
        keys = [self.key(partition.parent), *(self.key(child) for child in partition.children)]
        for key in keys:
            if key not in self.index:
                raise SuppressionError(f"partition names group {dict(key)}, which has no cell")
        if not partition.children or len(set(keys)) != len(keys):
            raise SuppressionError(f"partition of {dict(keys[0])} needs distinct children")
        parent, *children = (self.index[key] for key in keys)
        checked = self._checked(parent, tuple(children), "declared")
        if checked not in self.partitions:
            self.partitions.append(checked)

    def _checked(
        self, parent: int, children: tuple[int, ...], how: str
    ) -> tuple[int, tuple[int, ...]]:
        where = f"group {dict(self.keys[parent])}, split {how},"
        if sum(self.sizes[child] for child in children) != self.sizes[parent]:
            raise SuppressionError(
                f"{where} has {self.sizes[parent]} learners but its parts add up to "
                f"{sum(self.sizes[child] for child in children)} (a value missing, e.g. unknown?)"
            )
        for metric, counts in self.counts.items():
            if sum(counts[child] for child in children) != counts[parent]:
                raise SuppressionError(f"{where} has counts for {metric!r} that do not add up")
        return parent, children

    def _flag_subsets(self) -> list[tuple[int, int]]:
        """(group, its superset) for every group narrowed by one non-exclusive flag."""
        found = []
        for key in self.keys:
            for pair in key:
                if not self.dimensions[pair[0]].exclusive:
                    parent = tuple(other for other in key if other != pair)
                    if parent in self.index:
                        found.append((self.index[key], self.index[parent]))
        return sorted(found)

    def reference(self, i: int) -> int | None:
        """The group a group's gap is measured against: it without its last dimension."""
        key = self.keys[i]
        return self.index.get(key[:-1]) if key else None


# A variable of the audit: ("n", group) is a hidden size, ("c", metric, group) a hidden count.
_Var = tuple


class _State:
    """The suppression decisions for one table, made step by step until every one is safe."""

    def __init__(self, table: _Table, min_group_size: int, bands: tuple[RateBand, ...]) -> None:
        self.table = table
        self.k = min_group_size
        self.bands = bands
        self.size_reason: list[Reason | None] = [
            Reason.PRIMARY if size < min_group_size else None for size in table.sizes
        ]
        # Why a count is hidden while its group's size is shown.
        self.count_reason: dict[str, list[Reason | None]] = {}
        for metric, counts in table.counts.items():
            self.count_reason[metric] = [
                Reason.TOP_BOTTOM_CODED
                if self.size_reason[i] is None and self._coded(table.sizes[i], count)
                else None
                for i, count in enumerate(counts)
            ]
        self.certified: set[tuple[_Var, str]] = set()
        self._membership = self._members_by_group()

    def percent(self, size: int) -> int:
        band = self.bands[0]
        for candidate in self.bands:
            if candidate.min_size <= size:
                band = candidate
        return band.percent

    def slack(self, size: int) -> int:
        """How many learners a coded range can hide: floor(p% of the group)."""
        return self.percent(size) * size // 100

    def _coded(self, size: int, count: int) -> bool:
        return count <= self.slack(size) or size - count <= self.slack(size)

    def size_hidden(self, i: int) -> bool:
        return self.size_reason[i] is not None

    def count_hidden(self, metric: str, i: int) -> bool:
        return self.size_reason[i] is not None or self.count_reason[metric][i] is not None

    def _members_by_group(self) -> list[list[tuple[int, ...]]]:
        """For each group, the partitions (parent first) and flag subsets it belongs to."""
        members: list[list[tuple[int, ...]]] = [[] for _ in self.table.keys]
        for parent, children in self.table.partitions:
            for i in (parent, *children):
                members[i].append((parent, *children))
        for small, large in self.table.subsets:
            members[small].append((large, small))
            members[large].append((large, small))
        return members

    # Steps 3 and 4 ---------------------------------------------------------------------------

    def protect(self, max_search_nodes: int) -> None:
        self.rounds = 0  # audits run
        self.nodes = 0  # search nodes they visited
        while True:
            self._complement_lone_sizes()
            self._complement_lone_counts()
            audit = _Audit(self)
            self.rounds += 1
            exposed = audit.uncertified(max_search_nodes)
            if not exposed:
                self.nodes += audit.nodes()
                return
            # Every value left without a certificate gets its neighbour hidden in this round,
            # each chosen against the table as the round found it, so two values that share
            # their smallest shown neighbour hide it once.
            picks: dict[tuple[str, str | None, int], None] = {}
            for var, attempts in exposed:
                pick = self._next_to(var)
                if pick is not None:
                    picks[pick] = None
                # With everything around it hidden already, search much longer before giving up.
                elif not audit.certify(attempts, 50 * max_search_nodes):
                    raise SuppressionError(
                        f"group {dict(self.table.keys[var[-1]])} cannot be protected even with "
                        "everything around it hidden; please report this table"
                    )
            self.nodes += audit.nodes()
            for kind, metric, i in picks:
                if kind == "c":
                    self.count_reason[metric][i] = Reason.COMPLEMENTARY
                else:
                    self.size_reason[i] = Reason.COMPLEMENTARY

    def _pick(self, candidates: Iterable[int], parents: set[int]) -> int | None:
        table = self.table
        return min(
            candidates,
            key=lambda i: (table.sizes[i], i in parents, table.rank[i]),
            default=None,
        )

    def _complement_lone_sizes(self) -> None:
        changed = True
        while changed:
            changed = False
            for parent, children in self.table.partitions:
                members = (parent, *children)
                if sum(self.size_hidden(i) for i in members) == 1:
                    pick = self._pick((i for i in members if not self.size_hidden(i)), {parent})
                    if pick is not None:
                        self.size_reason[pick] = Reason.COMPLEMENTARY
                        changed = True

    def _complement_lone_counts(self) -> None:
        for metric in self.table.metrics:
            changed = True
            while changed:
                changed = False
                for parent, children in self.table.partitions:
                    members = (parent, *children)
                    if sum(self.count_hidden(metric, i) for i in members) == 1:
                        shown = (i for i in members if not self.count_hidden(metric, i))
                        pick = self._pick(shown, {parent})
                        if pick is not None:
                            self.count_reason[metric][pick] = Reason.COMPLEMENTARY
                            changed = True

    def _next_to(self, var: _Var) -> tuple[str, str | None, int] | None:
        """The smallest shown value beside an uncertified one (a count before a size), as
        ("c", metric, group) or ("n", None, group); None when everything around it is hidden."""
        i = var[-1]
        if var[0] != "n":
            metric = var[1]
            pick = self._neighbour(i, lambda j: self.count_hidden(metric, j))
            if pick is not None:
                return "c", metric, pick
        # A size: the group's own (for a count) competes with its neighbours', smallest first.
        pick = self._neighbour(i, self.size_hidden)
        return None if pick is None else ("n", None, pick)

    def _neighbour(self, start: int, hidden) -> int | None:
        """The smallest shown group: `start`, one in a relation with it, or with its hidden ones."""
        seen = {start}
        frontier = [start]
        shown: set[int] = set() if hidden(start) else {start}
        while frontier:
            parents: set[int] = set()
            next_frontier = []
            for i in frontier:
                for relation in self._membership[i]:
                    parents.add(relation[0])
                    for j in relation:
                        if j in seen:
                            continue
                        if hidden(j):
                            seen.add(j)
                            next_frontier.append(j)
                        else:
                            shown.add(j)
            pick = self._pick(shown, parents)
            if pick is not None:
                return pick
            frontier = sorted(next_frontier)
            shown = set()
        return None

    # Output ----------------------------------------------------------------------------------

    def rows(self) -> list[SuppressedCell]:
        table = self.table
        result = []
        for i in table.order:
            group = dict(table.keys[i])
            reference = table.reference(i)
            for metric in table.metrics:
                size = table.sizes[i]
                count = table.counts[metric][i]
                if self.size_hidden(i):
                    result.append(
                        SuppressedCell(
                            group, metric, None, None, None, None, None, self.size_reason[i]
                        )
                    )
                    continue
                reason = self.count_reason[metric][i]
                if reason is not None:
                    coded = None
                    if reason is Reason.TOP_BOTTOM_CODED:
                        p = self.percent(size) / 100
                        coded = (0.0, p) if count <= self.slack(size) else (1.0 - p, 1.0)
                    result.append(
                        SuppressedCell(group, metric, size, None, None, None, coded, reason)
                    )
                    continue
                rate = count / size
                gap: float | None = 0.0
                if reference is not None:
                    gap = None
                    if self.count_hidden(metric, reference):
                        reason = Reason.REFERENCE_SUPPRESSED
                    else:
                        gap = rate - table.counts[metric][reference] / table.sizes[reference]
                result.append(SuppressedCell(group, metric, size, count, rate, gap, None, reason))
        return result


class _Audit:
    """Every hidden value as an integer variable, with what an attacker knows as constraints.

    Variables: ("n", group) a hidden size; ("c", metric, group) a hidden count and ("d", metric,
    group) its non-count, size - count. Each constraint is `lower <= sum(coefficient x variable)
    <= upper` with coefficients +1/-1, shown values folded into the bounds: a partition (children
    - parent = 0, for sizes, counts and non-counts), a flag subset (superset - subset >= 0, same),
    count + non-count = size. A variable's own bounds say what its reason gives away. The
    non-counts are implied by sizes and counts, but as variables of their own they let bound
    propagation see a learner who does not meet the metric move through every partition at once.

    Alternatives are searched in two levels, because sizes and metrics only meet in
    count + non-count = size: a size goal in the sizes alone (a relaxation: no alternative there,
    none at all), its move then lifted into each metric on its own; a count goal in its metric
    with the sizes frozen, then with its group's size moved too. A search of everything at once
    is the last resort. Every alternative is checked against every constraint before it counts.
    """

    def __init__(self, state: _State) -> None:
        self.state = state
        table = state.table
        self.big = table.sizes[table.index[()]] + state.k
        self.ids: dict[_Var, int] = {}
        self.vars: list[_Var] = []
        self.truth: list[int] = []
        self._lo: list[int] = []
        self._hi: list[int] = []
        self.constraints: list[tuple[tuple[tuple[int, int], ...], int, int]] = []
        for i in range(len(table.keys)):
            if state.size_hidden(i):
                low, high = (0, state.k - 1)
                if state.size_reason[i] is Reason.COMPLEMENTARY:
                    low, high = (state.k, self.big)
                self._variable(("n", i), table.sizes[i], low, high)
        for metric in table.metrics:
            for i in range(len(table.keys)):
                if state.count_hidden(metric, i):
                    self._count_variables(metric, i)
        kinds = [("n",), *((kind, metric) for metric in table.metrics for kind in ("c", "d"))]
        for parent, children in table.partitions:
            for kind in kinds:
                terms = [((*kind, parent), -1), *(((*kind, child), 1) for child in children)]
                self._constraint(terms, 0, 0)
        for small, large in table.subsets:
            for kind in kinds:
                self._constraint([((*kind, large), 1), ((*kind, small), -1)], 0, self.big)
        self.joint = _Space(self.truth, self._lo, self._hi, self.constraints)
        # What the constraints imply before any goal, once, so every search starts from it. The
        # truth satisfies them all, so this cannot fail; every bound it draws is implied.
        self.joint.tighten()
        self.sizes = self._space(lambda var: var[0] == "n")
        self._frozen: dict[str, _Space] = {}
        self._nearby: dict[tuple[str, str | None], _Space] = {}

    def _count_variables(self, metric: str, i: int) -> None:
        state = self.state
        size = state.table.sizes[i]
        count = state.table.counts[metric][i]
        low, high = 0, self.big
        if not state.size_hidden(i):
            slack = state.slack(size)
            if state.count_reason[metric][i] is Reason.COMPLEMENTARY:
                # Its rate was not coded, which the attacker knows as well as we do.
                low, high = slack + 1, size - slack - 1
            elif count <= slack:
                low, high = 0, slack
            else:
                low, high = size - slack, size
        self._variable(("c", metric, i), count, low, high)
        if state.size_hidden(i):
            self._variable(("d", metric, i), size - count, 0, self.big)
        else:
            self._variable(("d", metric, i), size - count, size - high, size - low)
        self._constraint([(("c", metric, i), 1), (("d", metric, i), 1), (("n", i), -1)], 0, 0)

    def _variable(self, var: _Var, truth: int, low: int, high: int) -> None:
        self.ids[var] = len(self.vars)
        self.vars.append(var)
        self.truth.append(truth)
        self._lo.append(low)
        self._hi.append(high)

    def _value(self, var: _Var) -> int:
        table = self.state.table
        if var[0] == "n":
            return table.sizes[var[1]]
        count = table.counts[var[1]][var[2]]
        return count if var[0] == "c" else table.sizes[var[2]] - count

    def _constraint(self, terms: list[tuple[_Var, int]], lower: int, upper: int) -> None:
        hidden = []
        constant = 0
        for var, coefficient in terms:
            if var in self.ids:
                hidden.append((self.ids[var], coefficient))
            else:
                constant += coefficient * self._value(var)
        if hidden:
            self.constraints.append((tuple(hidden), lower - constant, upper - constant))

    def _space(self, keep) -> _Space:
        """The variables `keep` selects, under every constraint they enter with hidden sizes.

        Hidden sizes outside the part are fixed at their true values; `fixed_in` says where
        each one went, so a search can move them by shifting those constraints' bounds.
        """
        members = [v for v, var in enumerate(self.vars) if keep(var)]
        chosen = set(members)
        return self._with_others_fixed(
            members,
            [
                (terms, lower, upper)
                for terms, lower, upper in self.constraints
                if any(v in chosen for v, _ in terms)
                and all(v in chosen or self.vars[v][0] == "n" for v, _ in terms)
            ],
        )

    def _with_others_fixed(self, members: list[int], constraints) -> _Space:
        """A space over `members` under `constraints`, every other variable fixed at its true
        value; `fixed_in` says where each fixed one went, so a search can move it by shifting
        those constraints' bounds."""
        local = {v: position for position, v in enumerate(members)}
        kept_constraints = []
        fixed_in: dict[int, list[tuple[int, int]]] = {}
        for terms, lower, upper in constraints:
            constant = 0
            for v, c in terms:
                if v not in local:
                    constant += c * self.truth[v]
                    fixed_in.setdefault(v, []).append((len(kept_constraints), c))
            kept = tuple((local[v], c) for v, c in terms if v in local)
            kept_constraints.append((kept, lower - constant, upper - constant))
        lo, hi = self.joint.lo, self.joint.hi
        space = _Space(
            [self.truth[v] for v in members],
            [lo[v] for v in members],
            [hi[v] for v in members],
            kept_constraints,
            members,
        )
        space.fixed_in = fixed_in
        return space

    def _in_metric(
        self, metric: str, domains: dict[int, tuple[int, int]], sizes: dict[int, int], nodes: int
    ) -> dict[int, int] | None:
        """Search a metric's counts and non-counts, every hidden size fixed (moved to `sizes`)."""
        if metric not in self._frozen:
            self._frozen[metric] = self._space(lambda var: var[0] != "n" and var[1] == metric)
        space = self._frozen[metric]
        shifts: dict[int, int] = {}
        for v, value in sizes.items():
            for constraint, coefficient in space.fixed_in.get(v, ()):
                delta = coefficient * (value - self.truth[v])
                shifts[constraint] = shifts.get(constraint, 0) - delta
        return space.search(domains, nodes, shifts)

    def nodes(self) -> int:
        """Search nodes visited by every space of this audit."""
        spaces = [self.joint, self.sizes, *self._frozen.values(), *self._nearby.values()]
        return sum(space.nodes for space in spaces)

    def _block(self, i: int) -> str | None:
        """A group's scope: its value of the first dimension (its school), None for groups
        without one (the district's)."""
        key = self.state.table.keys[i]
        first = next(iter(self.state.table.dimensions), None)
        return key[0][1] if key and key[0][0] == first else None

    def _near(self, metric: str, i: int) -> _Space:
        """A metric's counts and non-counts in group `i`'s school, the district's groups and
        the few schools most tied to that school (`_NEARBY_SCHOOLS`), everything else -- other
        schools, every size -- fixed at its true value.

        A certificate found there is one of the whole table (every other value stays true, and
        it is checked against every constraint); it is tried first because most certificates
        are a rectangle of two schools, and a search over 80 schools costs far more per node.
        """
        block = self._block(i)
        cached = self._nearby.get((metric, block))
        if cached is not None:
            return cached
        in_metric = [v for v, var in enumerate(self.vars) if var[0] != "n" and var[1] == metric]
        blocks = {v: self._block(self.vars[v][-1]) for v in in_metric}
        ties: dict[str, int] = {}
        var_constraints = self.joint.var_constraints
        for v in in_metric:
            if blocks[v] != block:
                continue
            for constraint in var_constraints[v]:
                for u, _ in self.constraints[constraint][0]:
                    other = blocks.get(u)
                    if other is not None and other != block:
                        ties[other] = ties.get(other, 0) + 1
        first = next(iter(self.state.table.dimensions), None)
        order = self.state.table._value_rank.get(first, {})
        nearby = sorted(ties, key=lambda b: (-ties[b], order[b]))[:_NEARBY_SCHOOLS]
        keep = {block, None, *nearby}
        members = [v for v in in_metric if blocks[v] in keep]
        space = self._with_others_fixed(
            members,
            [
                self.constraints[constraint]
                for constraint in sorted({c for v in members for c in var_constraints[v]})
            ],
        )
        self._nearby[metric, block] = space
        return space

    # Goals and certificates ------------------------------------------------------------------

    def _goals(self):
        """Each goal with its attempts (variable, low, high), in a stable order.

        A hidden value must be able to differ; a hidden count (non-count) of 0 must be able to
        be 1 or more, or the table says no one (everyone) in the group met the metric.
        """
        lo, hi = self.joint.lo, self.joint.hi
        for v, var in enumerate(self.vars):
            t = self.truth[v]
            yield (var, "differs"), [(v, t + 1, hi[v]), (v, lo[v], t - 1)]
            if var[0] != "n" and t == 0:
                yield (var, "nonzero"), [(v, 1, hi[v])]

    def _certify(self, values: dict[int, int]) -> None:
        """Record every goal an alternative district (its moved variables) achieves."""
        for v, value in values.items():
            if value != self.truth[v]:
                self.state.certified.add((self.vars[v], "differs"))
            if value >= 1:
                self.state.certified.add((self.vars[v], "nonzero"))

    def uncertified(self, max_nodes: int) -> list[tuple[_Var, list]]:
        """Every variable with a goal no alternative district could be found for, with that
        goal's attempts (a variable once, for its first such goal), in goal order."""
        fixed = self._fixed_by_equations()
        exposed: dict[_Var, list] = {}
        for goal, attempts in self._goals():
            if goal in self.state.certified or goal[0] in exposed:
                continue
            if goal[1] == "differs" and self.ids[goal[0]] in fixed:
                exposed[goal[0]] = []
            elif not self.certify(attempts, max_nodes):
                exposed[goal[0]] = attempts
        return list(exposed.items())

    def certify(self, attempts: list[tuple[int, int, int]], max_nodes: int) -> bool:
        """Search each attempt (variable, low, high) in turn; record the first alternative."""
        for attempt in attempts:
            if attempt[1] > attempt[2]:
                continue
            values = self._alternative(attempt, max_nodes)
            if values is not None and self.joint.satisfied_by(values):
                self._certify(values)
                return True
        return False

    def _alternative(self, attempt: tuple[int, int, int], max_nodes: int) -> dict[int, int] | None:
        """The moved values of an alternative district with the variable in [low, high]."""
        v, low, high = attempt
        var = self.vars[v]
        if var[0] == "n":
            sizes = self.sizes.search({v: (low, high)}, max_nodes)
            if sizes is None:
                # None for the sizes alone means none at all (or none within the budget).
                return None
            lifted = self._lift(sizes, None, max_nodes)
            if lifted is not None:
                return lifted
        else:
            metric, i = var[1], var[2]
            counts = self._near(metric, i).search({v: (low, high)}, max_nodes)
            if counts is None:
                counts = self._in_metric(metric, {v: (low, high)}, {}, max_nodes)
            if counts is not None:
                return counts
            size = self.ids.get(("n", i))
            if size is not None:
                t = self.truth[size]
                for size_low, size_high in ((t + 1, self.joint.hi[size]), (0, t - 1)):
                    sizes = self.sizes.search({size: (size_low, size_high)}, max_nodes)
                    lifted = None if sizes is None else self._lift(sizes, attempt, max_nodes)
                    if lifted is not None:
                        return lifted
        return self.joint.search({v: (low, high)}, max_nodes)

    def _lift(
        self, sizes: dict[int, int], attempt: tuple[int, int, int] | None, max_nodes: int
    ) -> dict[int, int] | None:
        """Counts and non-counts for moved sizes, metric by metric (they meet only there)."""
        values = dict(sizes)
        for metric in self.state.table.metrics:
            domains = {}
            if attempt is not None and self.vars[attempt[0]][1] == metric:
                domains = {attempt[0]: attempt[1:]}
            moved = self._in_metric(metric, domains, sizes, max_nodes)
            if moved is None:
                return None
            values.update(moved)
        return values

    def _fixed_by_equations(self) -> set[int]:
        """Variables the partitions alone determine, by Gauss-Jordan elimination.

        A fast way to fail the goals no search could meet: a bridge in a school x group table
        is fixed by its rows minus its columns, which bound propagation never sees. Sizes and
        each metric's counts form separate systems (count + non-count = size adds a fresh
        unknown per group), and a non-count is fixed exactly when its count is. The arithmetic
        is modulo a large prime: a miss there only means a search, never an unsafe table.
        """
        systems: dict[tuple, list[dict[int, int]]] = {}
        for terms, low, high in self.constraints:
            kinds = {self.vars[v][:-1] for v, _ in terms}
            if low == high and len(kinds) == 1 and next(iter(kinds))[0] in ("n", "c"):
                systems.setdefault(next(iter(kinds)), []).append(dict(terms))
        fixed = set()
        for rows in systems.values():
            fixed |= _singletons(rows)
        for v in list(fixed):
            var = self.vars[v]
            if var[0] == "c":
                fixed.add(self.ids["d", *var[1:]])
        return fixed


class _Space:
    """Integer variables under +1/-1 linear constraints, searched for solutions near the truth.

    A space may be a part of the audit (`members` maps its variables to the audit's): then
    `search` takes and returns the audit's variables.
    """

    def __init__(
        self,
        truth: list[int],
        lo: list[int],
        hi: list[int],
        constraints: list[tuple[tuple[tuple[int, int], ...], int, int]],
        members: list[int] | None = None,
    ) -> None:
        self.truth = truth
        self.lo = lo
        self.hi = hi
        self.terms = [terms for terms, _, _ in constraints]
        self.lower = [lower for _, lower, _ in constraints]
        self.upper = [upper for _, _, upper in constraints]
        self.var_constraints: list[list[int]] = [[] for _ in truth]
        for index, terms in enumerate(self.terms):
            for v, _ in terms:
                self.var_constraints[v].append(index)
        self.members = members
        self._local = None if members is None else {v: p for p, v in enumerate(members)}
        self.fixed_in: dict[int, list[tuple[int, int]]] = {}
        self.nodes = 0  # search nodes visited, for the audit's cost
        self._outside: list[int] | None = None  # variables whose domain excludes the truth

    def tighten(self) -> None:
        """Narrow the domains to what the constraints imply (the truth always stays inside)."""
        self._propagate(self.lo, self.hi, set(range(len(self.terms))), [])
        self._outside = None

    def satisfied_by(self, values: dict[int, int]) -> bool:
        """Whether the truth with `values` in place meets every domain and every constraint."""
        point = self.truth[:]
        for v, value in values.items():
            if not self.lo[v] <= value <= self.hi[v]:
                return False
            point[v] = value
        touched = {c for v in values for c in self.var_constraints[v]}
        return all(
            self.lower[c] <= sum(a * point[v] for v, a in self.terms[c]) <= self.upper[c]
            for c in touched
        )

    def search(
        self,
        domains: dict[int, tuple[int, int]],
        max_nodes: int,
        shifts: dict[int, int] | None = None,
    ) -> dict[int, int] | None:
        """The moved variables of an integer solution within `domains`, searched near the truth.

        `shifts` moves some constraints' bounds (a part's fixed sizes moved); the truth may then
        break them. Depth first: propagate bounds; if the truth, clipped to the domains,
        satisfies every constraint, that is the solution; else split a free variable of a broken
        constraint into its clipped true value, the side that mends the constraint, and the
        other side. Complete but for `max_nodes`; None when there is no solution or the budget
        ran out.
        """
        if self._local is not None:
            domains = {self._local[v]: bounds for v, bounds in domains.items()}
        # The search works on the space's own domains and bounds, every change on a trail that
        # is undone before it returns: no copy of the whole space per search.
        lo, hi, lower, upper = self.lo, self.hi, self.lower, self.upper
        if self._outside is None:
            truth = self.truth
            self._outside = [v for v in range(len(truth)) if not lo[v] <= truth[v] <= hi[v]]
        unmet: set[int] = set()
        for constraint, delta in (shifts or {}).items():
            lower[constraint] += delta
            upper[constraint] += delta
            unmet.add(constraint)
        trail: list[tuple[int, int, int]] = []
        try:
            return self._search(domains, max_nodes, unmet, trail)
        finally:
            self._undo(trail, 0, lo, hi)
            for constraint, delta in (shifts or {}).items():
                lower[constraint] -= delta
                upper[constraint] -= delta

    def _search(
        self,
        domains: dict[int, tuple[int, int]],
        max_nodes: int,
        unmet: set[int],
        trail: list[tuple[int, int, int]],
    ) -> dict[int, int] | None:
        lo, hi, bounds = self.lo, self.hi, (self.lower, self.upper)
        queue = set(unmet)
        for v, (low, high) in domains.items():
            trail.append((v, lo[v], hi[v]))
            lo[v], hi[v] = max(lo[v], low), min(hi[v], high)
            if lo[v] > hi[v]:
                return None
            queue.update(self.var_constraints[v])
        mark = len(trail)
        if not self._propagate(lo, hi, queue, trail, bounds):
            return None
        # Only a variable whose domain changed can have left its true value behind: one named
        # by `domains`, one outside its domain from the start, or one on the trail.
        truth = self.truth
        start = set(self._outside or ())
        start.update(domains)
        stack: list[tuple[int, int, list[tuple[int, int]]]] = []
        for _ in range(max_nodes):
            self.nodes += 1
            touched = start.union(entry[0] for entry in trail[mark:])
            moved = sorted(v for v in touched if not lo[v] <= truth[v] <= hi[v])
            broken = self._broken(moved, unmet, lo, hi, bounds)
            if broken is None:
                solution = {v: self._clipped(v, lo, hi) for v in moved}
                if self.members is not None:
                    solution = {self.members[v]: value for v, value in solution.items()}
                return solution
            stack.append((len(trail), *self._branches(broken, lo, hi, bounds)))
            while stack:
                top, v, branches = stack[-1]
                self._undo(trail, top, lo, hi)
                if not branches:
                    stack.pop()
                    continue
                low, high = branches.pop(0)
                trail.append((v, lo[v], hi[v]))
                lo[v], hi[v] = low, high
                if self._propagate(lo, hi, set(self.var_constraints[v]), trail, bounds):
                    break
            else:
                return None
        return None

    def _clipped(self, v: int, lo: list[int], hi: list[int]) -> int:
        return min(max(self.truth[v], lo[v]), hi[v])

    def _broken(
        self, moved: list[int], unmet: set[int], lo: list[int], hi: list[int], bounds
    ) -> int | None:
        """A constraint the truth clipped to the domains breaks: a shifted one or a moved one's."""
        lower, upper = bounds
        candidates = sorted(unmet.union(*(self.var_constraints[v] for v in moved)))
        for constraint in candidates:
            total = sum(c * self._clipped(v, lo, hi) for v, c in self.terms[constraint])
            if not lower[constraint] <= total <= upper[constraint]:
                return constraint
        return None

    def _branches(
        self, constraint: int, lo: list[int], hi: list[int], bounds
    ) -> tuple[int, list[tuple[int, int]]]:
        """Split the least free variable of a broken constraint: truth, mending side, other side."""
        free = [(hi[v] - lo[v], v, c) for v, c in self.terms[constraint] if lo[v] < hi[v]]
        if not free:  # cannot happen after a successful propagation; a dead end if it did
            return -1, []
        _, v, coefficient = min(free)
        t = self._clipped(v, lo, hi)
        total = sum(c * self._clipped(u, lo, hi) for u, c in self.terms[constraint])
        up, down = (t + 1, hi[v]), (lo[v], t - 1)
        too_low = total < bounds[0][constraint]
        mending = [up, down] if too_low == (coefficient > 0) else [down, up]
        return v, [(t, t), *(side for side in mending if side[0] <= side[1])]

    @staticmethod
    def _undo(trail: list[tuple[int, int, int]], mark: int, lo: list[int], hi: list[int]) -> None:
        while len(trail) > mark:
            v, low, high = trail.pop()
            lo[v], hi[v] = low, high

    def _propagate(
        self,
        lo: list[int],
        hi: list[int],
        queue: set[int],
        trail: list[tuple[int, int, int]],
        bounds=None,
    ) -> bool:
        """Tighten domains to bounds consistency; False on a contradiction (or a runaway loop)."""
        lower, upper = bounds or (self.lower, self.upper)
        all_terms, var_constraints, record = self.terms, self.var_constraints, trail.append
        pending = deque(sorted(queue))
        queued = set(pending)
        # Around a contradictory cycle bounds creep one step per pass; give up long before.
        budget = 64 * (len(all_terms) + len(queue)) + 1_000
        while pending:
            budget -= 1
            if budget < 0:
                return False
            constraint = pending.popleft()
            queued.discard(constraint)
            terms = all_terms[constraint]
            low_bound, high_bound = lower[constraint], upper[constraint]
            smallest = largest = 0
            for v, coefficient in terms:
                if coefficient > 0:
                    smallest += lo[v]
                    largest += hi[v]
                else:
                    smallest -= hi[v]
                    largest -= lo[v]
            if smallest > high_bound or largest < low_bound:
                return False
            if smallest >= low_bound and largest <= high_bound:
                continue  # every value of every variable fits: nothing to tighten
            for v, coefficient in terms:
                # Bounds from the others' extremes; after a change they are stale, only looser.
                if coefficient > 0:
                    new_lo = low_bound - largest + hi[v]
                    new_hi = high_bound - smallest + lo[v]
                else:
                    new_lo = smallest + hi[v] - high_bound
                    new_hi = largest + lo[v] - low_bound
                old_lo, old_hi = lo[v], hi[v]
                if new_lo > old_lo or new_hi < old_hi:
                    record((v, old_lo, old_hi))
                    if new_lo > old_lo:
                        lo[v] = new_lo
                    if new_hi < old_hi:
                        hi[v] = new_hi
                    if lo[v] > hi[v]:
                        return False
                    for other in var_constraints[v]:
                        if other not in queued:
                            queued.add(other)
                            pending.append(other)
        return True


_PRIME = (1 << 61) - 1


def _singletons(rows: list[dict[int, int]]) -> set[int]:
    """Columns the rows' span holds a unit vector of (reduced row echelon form, mod a prime)."""
    pivots: dict[int, dict[int, int]] = {}
    for row in rows:
        reduced = {column: value % _PRIME for column, value in row.items()}
        for column in [column for column in reduced if column in pivots]:
            factor = reduced.pop(column)
            for other, value in pivots[column].items():
                if other != column:
                    reduced[other] = (reduced.get(other, 0) - factor * value) % _PRIME
        reduced = {column: value for column, value in reduced.items() if value}
        if not reduced:
            continue
        pivot = min(reduced)
        inverse = pow(reduced[pivot], _PRIME - 2, _PRIME)
        reduced = {column: value * inverse % _PRIME for column, value in reduced.items()}
        for existing in pivots.values():
            factor = existing.pop(pivot, 0)
            if factor:
                for column, value in reduced.items():
                    if column != pivot:
                        existing[column] = (existing.get(column, 0) - factor * value) % _PRIME
                        if not existing[column]:
                            del existing[column]
        pivots[pivot] = reduced
    return {column for column, row in pivots.items() if len(row) == 1}
