"""Two adversaries of small-cell suppression, shared by the suppression and the equity mart tests.

They read only what is published (every shown size, count, rate, range, gap and reason, in every
metric) plus the rule itself, and try to recompute every hidden number. They are written
independently of the engine (`models.suppression`):

- `linear_leaks`, the exact linear attack. Every group is a set of learner *types* (one per
  combination of school, program flags, sex and race flags), so every published number is a sum
  of per-type numbers. A hidden number can be computed from published ones by any arithmetic on
  totals, siblings, parents and children exactly when its row lies in the span of the published
  rows. This needs no list of partitions, so it also catches a relation the engine missed.
- `IntegerAttack`, the integer attack. Every hidden number becomes an integer variable bound by
  every partition (checked to span all the linear relations above), every subset relation
  between groups (for sizes, counts, and non-counts), 0 <= count <= size, and what each reason
  and coded range says. An exhaustive search then looks for an alternative district: a hidden
  number is recomputed when no alternative changes it; "no one" or "everyone" in a group is
  disclosed when no alternative has a learner who meets (or does not meet) the metric. The
  search is complete; it starts from the true district only to be quick.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from itertools import combinations, product

import numpy as np

from models.suppression import (
    DEFAULT_RATE_BANDS,
    Dimension,
    RateBand,
    Reason,
    SuppressedCell,
)

K = 10

Key = tuple[tuple[str, str], ...]


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


def member(key: Key, attributes: dict[str, object]) -> bool:
    for name, value in key:
        held = attributes[name]
        if not (value in held if isinstance(held, frozenset) else held == value):
            return False
    return True


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
