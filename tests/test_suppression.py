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
from fractions import Fraction
from functools import cache
from itertools import combinations, product

import numpy as np
import pytest

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

K = 10
SCHOOLS = ("north", "south", "east", "west")
SEXES = ("female", "male", "unspecified", "other")
RACE_FLAGS = ("black", "hispanic", "asian")
METRICS = ("earned_credential", "mastered_competency")

Key = tuple[tuple[str, str], ...]


# The district: layouts, learners and their published cells -----------------------------------


@dataclass(frozen=True)
class Layout:
    """The dimensions a district is published by, which groups it publishes, extra hierarchies."""

    dimensions: tuple[Dimension, ...]
    groups: tuple[Key, ...]
    hierarchies: tuple[tuple[Key, tuple[Key, ...]], ...] = ()
    # For a hierarchy, which dimension's value each value of another dimension implies.
    implied: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()

    def key(self, group: dict[str, str]) -> Key:
        order = [dimension.name for dimension in self.dimensions]
        return tuple(sorted(group.items(), key=lambda pair: order.index(pair[0])))


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


def member(key: Key, attributes: dict[str, object]) -> bool:
    for name, value in key:
        held = attributes[name]
        if not (value in held if isinstance(held, frozenset) else held == value):
            return False
    return True


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


# What was published, read back the way a dashboard reader sees it ------------------------------


@dataclass
class Publication:
    """The rows of one run, by group and metric, with the group keys in layout order."""

    layout: Layout
    rows: dict[tuple[Key, str], SuppressedCell]
    metrics: tuple[str, ...]

    @classmethod
    def of(cls, layout: Layout, rows: list[SuppressedCell]) -> Publication:
        metrics = tuple(dict.fromkeys(row.metric for row in rows))
        return cls(layout, {(layout.key(row.group), row.metric): row for row in rows}, metrics)

    @property
    def groups(self) -> list[Key]:
        return list(dict.fromkeys(key for key, _ in self.rows))

    def size(self, key: Key) -> int | None:
        return self.rows[key, self.metrics[0]].size

    def count(self, key: Key, metric: str) -> int | None:
        """The count as shown, or as a reader derives it from a gap beside a shown rate."""
        row = self.rows[key, metric]
        if row.count is not None:
            return row.count
        return self.from_gaps.get((key, metric))

    def non_count(self, key: Key, metric: str) -> int | None:
        """Learners of the group not meeting the metric, where size and count are both known."""
        size, count = self.size(key), self.count(key, metric)
        return None if size is None or count is None else size - count

    @property
    def from_gaps(self) -> dict[tuple[Key, str], int]:
        """Counts a reader gets from a group's rate minus its gap, times its reference's size."""
        if not hasattr(self, "_from_gaps"):
            self._from_gaps = {}
            for (key, metric), row in self.rows.items():
                size = self.size(key[:-1]) if key else None
                if row.gap is not None and row.rate is not None and size is not None:
                    self._from_gaps[key[:-1], metric] = round((row.rate - row.gap) * size)
        return self._from_gaps


# The linear attack ------------------------------------------------------------------------------


@cache
def learner_types(layout: Layout) -> tuple[dict[str, object], ...]:
    choices = []
    for dimension in layout.dimensions:
        if dimension.exclusive:
            choices.append([(dimension.name, value) for value in dimension.values])
        else:
            subsets = [
                frozenset(combo)
                for size in range(len(dimension.values) + 1)
                for combo in combinations(dimension.values, size)
            ]
            choices.append([(dimension.name, subset) for subset in subsets])
    types = []
    for combo in product(*choices):
        attributes = dict(combo)
        if all(
            attributes[name] == dict(pairs)[attributes[source]]
            for name, source, pairs in layout.implied
        ):
            types.append(attributes)
    return tuple(types)


@cache
def type_matrix(layout: Layout, groups: tuple[Key, ...]) -> np.ndarray:
    """One row per group, one column per learner type: 1 where the type is in the group."""
    types = learner_types(layout)
    return np.array([[member(key, t) for t in types] for key in groups], dtype=float)


def in_span(rows: np.ndarray, basis_rows: np.ndarray) -> np.ndarray:
    """For each of `rows`, whether it is a linear combination of `basis_rows`."""
    if not len(basis_rows):
        return np.zeros(len(rows), dtype=bool)
    _, singular, vt = np.linalg.svd(basis_rows, full_matrices=False)
    basis = vt[singular > 1e-9 * singular[0]]
    residual = rows - (rows @ basis.T) @ basis
    return np.linalg.norm(residual, axis=1) < 1e-7


def linear_leaks(publication: Publication) -> list[str]:
    """Hidden sizes and counts that published numbers of the same kind determine exactly."""
    groups = tuple(publication.groups)
    matrix = type_matrix(publication.layout, groups)
    leaks = []
    kinds = [("size", lambda key: publication.size(key))]
    for metric in publication.metrics:
        kinds += [
            (metric, lambda key, m=metric: publication.count(key, m)),
            (f"not {metric}", lambda key, m=metric: publication.non_count(key, m)),
        ]
    for kind, value in kinds:
        shown = [i for i, key in enumerate(groups) if value(key) is not None]
        hidden = [i for i, key in enumerate(groups) if value(key) is None]
        if not hidden:
            continue
        determined = in_span(matrix[hidden], matrix[shown])
        leaks += [
            f"{kind} of {groups[i]}" for i, hit in zip(hidden, determined, strict=True) if hit
        ]
    return leaks


# The integer attack -----------------------------------------------------------------------------


class Inconclusive(AssertionError):
    """The exhaustive search ran out of budget: treat as a failed protection, look closer."""


def partition_equations(layout: Layout, groups: list[Key]) -> list[tuple[Key, list[Key]]]:
    published = set(groups)
    found = []
    for parent in groups:
        named = {name for name, _ in parent}
        for dimension in layout.dimensions:
            if not dimension.exclusive or dimension.name in named:
                continue
            children = [layout.key({**dict(parent), dimension.name: v}) for v in dimension.values]
            if all(child in published for child in children):
                found.append((parent, children))
    found += [(parent, list(children)) for parent, children in layout.hierarchies]
    return found


@cache
def covering_pairs(layout: Layout, groups: tuple[Key, ...]) -> list[tuple[Key, Key]]:
    """(smaller, larger) for every group inside another, with nothing published in between."""
    types = learner_types(layout)
    sets = {key: frozenset(i for i, t in enumerate(types) if member(key, t)) for key in groups}
    inside = {
        (a, b)
        for a in groups
        for b in groups
        if a != b and sets[a] <= sets[b] and sets[a] != sets[b]
    }
    return sorted(
        (a, b) for a, b in inside if not any((a, c) in inside and (c, b) in inside for c in groups)
    )


def band_slack(size: int, bands: tuple[RateBand, ...]) -> int:
    ordered = sorted(bands, key=lambda band: band.min_size)
    percent = ordered[0].percent
    for band in ordered:
        if band.min_size <= size:
            percent = band.percent
    return percent * size // 100


class Solver:
    """Integer variables under linear constraints: exhaustive search for a solution in domains."""

    def __init__(self, truth, lo, hi, constraints) -> None:
        self.truth, self.lo, self.hi = truth, lo[:], hi[:]
        self.constraints = constraints
        self.watch: list[list[int]] = [[] for _ in truth]
        for position, (terms, _, _) in enumerate(constraints):
            for variable, _ in terms:
                self.watch[variable].append(position)
        self.budget = 10**6
        self.feasible = self._tighten(self.lo, self.hi, range(len(constraints)))

    def solve(
        self, domains: dict[int, tuple[int, int]], shifts: dict[int, int] | None = None
    ) -> list[int] | None:
        """A solution within `domains` (and constraints' bounds moved by `shifts`), or None when
        there is none; Inconclusive if the search runs too long."""
        if not self.feasible:
            return None
        lo, hi = self.lo[:], self.hi[:]
        for variable, (low, high) in domains.items():
            lo[variable], hi[variable] = max(lo[variable], low), min(hi[variable], high)
            if lo[variable] > hi[variable]:
                return None
        self.budget = 200_000
        queue = [position for variable in domains for position in self.watch[variable]]
        original = self.constraints
        if shifts:
            self.constraints = original[:]
            for position, delta in shifts.items():
                terms, low, high = original[position]
                self.constraints[position] = (terms, low + delta, high + delta)
            queue += list(shifts)
        try:
            # The truth breaks only constraints whose bounds moved, or those of moved variables.
            return self._solve(lo, hi, queue, frozenset(shifts or ()))
        finally:
            self.constraints = original

    def _tighten(self, lo, hi, queue) -> bool:
        pending = list(dict.fromkeys(queue))
        queued = set(pending)
        while pending:
            self.budget -= 1
            if self.budget < 0:
                raise Inconclusive("the search ran out of budget")
            position = pending.pop()
            queued.discard(position)
            terms, low, high = self.constraints[position]
            least = most = 0
            for v, c in terms:
                if c > 0:
                    least += lo[v]
                    most += hi[v]
                else:
                    least -= hi[v]
                    most -= lo[v]
            if least > high or most < low:
                return False
            for v, c in terms:
                # From the others' extremes as they were: after a change, only looser.
                if c > 0:
                    new_lo, new_hi = low - most + hi[v], high - least + lo[v]
                else:
                    new_lo, new_hi = least + hi[v] - high, most + lo[v] - low
                if new_lo > lo[v] or new_hi < hi[v]:
                    lo[v], hi[v] = max(lo[v], new_lo), min(hi[v], new_hi)
                    if lo[v] > hi[v]:
                        return False
                    for other in self.watch[v]:
                        if other not in queued:
                            queued.add(other)
                            pending.append(other)
        return True

    def _solve(self, lo, hi, queue, suspects=frozenset()) -> list[int] | None:
        if not self._tighten(lo, hi, queue):
            return None
        guess = [min(max(t, lo[v]), hi[v]) for v, t in enumerate(self.truth)]
        moved = {p for v, t in enumerate(self.truth) if guess[v] != t for p in self.watch[v]}
        broken = next(
            (
                self.constraints[position][0]
                for position in sorted(moved | suspects)
                if not self.constraints[position][1]
                <= sum(c * guess[v] for v, c in self.constraints[position][0])
                <= self.constraints[position][2]
            ),
            None,
        )
        if broken is None:
            return guess
        variable = min((v for v, _ in broken if lo[v] < hi[v]), key=lambda v: (hi[v] - lo[v], v))
        t = guess[variable]
        for low, high in ((t, t), (t + 1, hi[variable]), (lo[variable], t - 1)):
            if low <= high:
                branch_lo, branch_hi = lo[:], hi[:]
                branch_lo[variable], branch_hi[variable] = low, high
                found = self._solve(branch_lo, branch_hi, self.watch[variable], suspects)
                if found is not None:
                    return found
        return None


class IntegerAttack:
    """Hidden numbers as integer variables under everything a reader knows; exhaustive search.

    Variables: ("n", group) a hidden size, ("c", metric, group) a hidden count, ("d", metric,
    group) its non-count (size - count), tied by c + d = n. To be quick it looks for a size's
    alternative among the sizes alone (a relaxation: none there, none at all) and lifts it into
    the counts; a count's with everything else frozen; only then everything at once.
    """

    def __init__(
        self,
        publication: Publication,
        truth: dict[Key, tuple[int, dict[str, int]]],
        *,
        min_group_size: int = K,
        bands: tuple[RateBand, ...] = DEFAULT_RATE_BANDS,
    ) -> None:
        self.publication = publication
        self.names: list[tuple] = []
        self.index: dict[tuple, int] = {}
        self.lo: list[int] = []
        self.hi: list[int] = []
        self.truth: list[int] = []
        self.constraints: list[tuple[tuple[tuple[int, int], ...], int, int]] = []
        groups = publication.groups
        root = publication.size(())
        top = root if root is not None else 10**6
        for key in groups:
            row = publication.rows[key, publication.metrics[0]]
            if row.size is None:
                primary = row.reason is Reason.PRIMARY
                low, high = (0, min_group_size - 1) if primary else (min_group_size, top)
                self._variable(("n", key), truth[key][0], low, high)
        for key in groups:
            for metric in publication.metrics:
                if publication.count(key, metric) is None:
                    self._count(key, metric, truth[key][0], truth[key][1][metric], top, bands)
        kinds = [("n",), *((kind, metric) for metric in publication.metrics for kind in "cd")]
        for parent, children in partition_equations(publication.layout, groups):
            for kind in kinds:
                terms = [((*kind, parent), -1), *(((*kind, child), 1) for child in children)]
                self._constraint(terms, 0, 0)
        # A child is inside its parent by a partition and non-negativity already.
        implied = {
            (child, parent)
            for parent, children in partition_equations(publication.layout, groups)
            for child in children
        }
        for small, large in covering_pairs(publication.layout, tuple(groups)):
            if (small, large) in implied:
                continue
            for kind in kinds:
                self._constraint([((*kind, large), 1), ((*kind, small), -1)], 0, top)
        self.everything = Solver(self.truth, self.lo, self.hi, self.constraints)
        assert self.everything.feasible  # the true district fits what is published
        self.sizes = self._part(lambda name: name[0] == "n")
        self.metric_parts = {
            metric: self._part(lambda name, m=metric: name[0] != "n" and name[1] == m)
            for metric in publication.metrics
        }
        self.solutions: list[list[int]] = [self.truth]

    def _part(self, keep) -> tuple[Solver, list[int], dict[int, list[tuple[int, int]]]]:
        """The variables `keep` selects, under the constraints they enter with hidden sizes only.

        The hidden sizes outside the part stay at their true values; the third item says which
        constraints hold each, so a search can move them by shifting those bounds.
        """
        members = [v for v, name in enumerate(self.names) if keep(name)]
        local = {v: position for position, v in enumerate(members)}
        constraints = []
        held: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for terms, low, high in self.constraints:
            inside = [(local[v], c) for v, c in terms if v in local]
            if inside and all(v in local or self.names[v][0] == "n" for v, _ in terms):
                for v, c in terms:
                    if v not in local:
                        held[v].append((len(constraints), c))
                shift = sum(c * self.truth[v] for v, c in terms if v not in local)
                constraints.append((tuple(inside), low - shift, high - shift))
        truth = [self.truth[v] for v in members]
        lo = [self.everything.lo[v] for v in members]
        hi = [self.everything.hi[v] for v in members]
        return Solver(truth, lo, hi, constraints), members, held

    def _place(self, part, domains: dict[int, tuple[int, int]], base: list[int]):
        """Solve a part (domains by the attack's variables) with its held sizes as in `base`;
        its solution put into `base`."""
        solver, members, held = part
        local = {v: position for position, v in enumerate(members)}
        shifts: dict[int, int] = defaultdict(int)
        for v, positions in held.items():
            for position, c in positions:
                shifts[position] -= c * (base[v] - self.truth[v])
        found = solver.solve({local[v]: bounds for v, bounds in domains.items()}, shifts)
        if found is None:
            return None
        solution = base[:]
        for position, v in enumerate(members):
            solution[v] = found[position]
        return solution

    def _fits(self, solution: list[int]) -> bool:
        """Whether a solution meets every bound and constraint (the truth meets them all)."""
        lo, hi = self.everything.lo, self.everything.hi
        changed = [v for v, x in enumerate(solution) if x != self.truth[v]]
        touched = {position for v in changed for position in self.everything.watch[v]}
        return all(lo[v] <= solution[v] <= hi[v] for v in changed) and all(
            self.constraints[p][1]
            <= sum(c * solution[v] for v, c in self.constraints[p][0])
            <= self.constraints[p][2]
            for p in touched
        )

    def _count(self, key: Key, metric: str, size: int, count: int, top: int, bands) -> None:
        row = self.publication.rows[key, metric]
        low, high = 0, top
        if row.size is not None:
            if row.rate_range is not None and row.rate_range[0] == 0:
                high = int(Fraction(str(row.rate_range[1])) * row.size)
            elif row.rate_range is not None:
                low = row.size - int((1 - Fraction(str(row.rate_range[0]))) * row.size)
                high = row.size
            else:
                assert row.reason is Reason.COMPLEMENTARY, row
                slack = band_slack(row.size, bands)
                low, high = slack + 1, row.size - slack - 1
        self._variable(("c", metric, key), count, low, high)
        if row.size is None:
            self._variable(("d", metric, key), size - count, 0, top)
        else:
            self._variable(("d", metric, key), size - count, row.size - high, row.size - low)
        self._constraint([(("c", metric, key), 1), (("d", metric, key), 1), (("n", key), -1)], 0, 0)

    def _variable(self, name: tuple, truth: int, low: int, high: int) -> None:
        assert low <= truth <= high, (name, truth, low, high)
        self.index[name] = len(self.names)
        self.names.append(name)
        self.truth.append(truth)
        self.lo.append(low)
        self.hi.append(high)

    def _known(self, name: tuple) -> int:
        if name[0] == "n":
            return self.publication.size(name[1])
        count = self.publication.count(name[2], name[1])
        return count if name[0] == "c" else self.publication.size(name[2]) - count

    def _constraint(self, terms: list[tuple[tuple, int]], low: int, high: int) -> None:
        variables = []
        for name, coefficient in terms:
            if name in self.index:
                variables.append((self.index[name], coefficient))
            else:
                low -= coefficient * self._known(name)
                high -= coefficient * self._known(name)
        if variables:
            self.constraints.append((tuple(variables), low, high))
        else:
            assert low <= 0 <= high, terms  # the published numbers themselves must agree

    def leaks(self) -> list[str]:
        found = []
        for variable, name in enumerate(self.names):
            t = self.truth[variable]
            directions = [(t + 1, 10**9), (-(10**9), t - 1)]
            if not self._any(variable, lambda s, v=variable, t=t: s[v] != t, directions):
                found.append(f"{name} recomputed as {t}")
            someone = [(1, 10**9)]
            if name[0] != "n" and not self._any(variable, lambda s, v=variable: s[v] >= 1, someone):
                who = "no one" if name[0] == "c" else "everyone"
                found.append(f"{('c', *name[1:])}: {who} in the group meets the metric")
        return found

    def _any(self, variable: int, holds, directions: list[tuple[int, int]]) -> bool:
        """Whether an alternative exists in some direction; Inconclusive if none was found and
        some direction could be neither found nor ruled out."""
        unsure = None
        for bounds in directions:
            try:
                if self._exists(variable, holds, bounds):
                    return True
            except Inconclusive as error:
                unsure = error
        if unsure is not None:
            raise unsure
        return False

    def _exists(self, variable: int, holds, bounds: tuple[int, int]) -> bool:
        """Is there an alternative district where `holds`? Known ones first, then the search."""
        if any(holds(solution) for solution in self.solutions):
            return True
        solution = self._alternative(variable, bounds)
        if solution is not None:
            assert holds(solution)
            self.solutions.append(solution)
        return solution is not None

    def _alternative(self, variable: int, bounds: tuple[int, int]) -> list[int] | None:
        name = self.names[variable]
        if name[0] == "n":
            moved = self._place(self.sizes, {variable: bounds}, self.truth)
            if moved is None:
                return None  # impossible for the sizes alone, so for everything
            for metric in self.publication.metrics:
                moved = self._place(self.metric_parts[metric], {}, moved)
                if moved is None:
                    break
            if moved is not None and self._fits(moved):
                return moved
        else:
            found = self._place(self.metric_parts[name[1]], {variable: bounds}, self.truth)
            if found is not None and self._fits(found):
                return found
        return self.everything.solve({variable: bounds})


def bound_leaks(district: District, rows: list[SuppressedCell], **rule) -> list[str]:
    publication = Publication.of(district.layout, rows)
    return IntegerAttack(publication, district.truth(), **rule).leaks()


def assert_partitions_span_every_relation(layout: Layout, groups: list[Key]) -> None:
    """The integer attack's partitions generate every linear relation between the groups."""
    matrix = type_matrix(layout, tuple(groups))
    position = {key: i for i, key in enumerate(groups)}
    equations = np.zeros((0, len(groups)))
    for parent, children in partition_equations(layout, groups):
        row = np.zeros(len(groups))
        row[position[parent]] -= 1
        for child in children:
            row[position[child]] += 1
        equations = np.vstack([equations, row])
    relations = len(groups) - np.linalg.matrix_rank(matrix)
    assert (np.linalg.matrix_rank(equations) if len(equations) else 0) == relations


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
