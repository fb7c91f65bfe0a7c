"""How a district's readiness is scored: measured rules, self-assessment, final and category levels.

The rules are data (`readiness_rules.yaml`, shipped in the package): which measure of the
warehouse speaks to which indicator, and the threshold of each level. This module reads them,
checks them against the framework, and turns numbers and a district's self-assessment rows into
levels with the evidence behind them. Nothing here opens the warehouse or a file the district
writes; `pipelines/readiness.py` does.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from models.readiness import Framework, Level, load_framework

RULES_FILE = Path(__file__).parent / "readiness_rules.yaml"
# Where a measured rule reads its number from: a measure of marts.readiness_measures, or the
# level marts.data_infrastructure_levels gives the indicator.
MEASURES_SOURCE = "readiness_measures"
INFRASTRUCTURE_SOURCE = "data_infrastructure_levels"
# Levels a threshold can be set for; Starting is what is left when none holds.
THRESHOLD_LEVELS = (Level.PRACTICING, Level.SUSTAINING)
# Flags of marts.readiness_indicators.
SELF_ASSESSMENT_ABOVE_MEASURED = "self_assessment_above_measured"
SELF_ASSESSMENT_BELOW_MEASURED = "self_assessment_below_measured"
# The columns of readiness_self_assessment.csv, in order.
SELF_ASSESSMENT_COLUMNS = ("indicator_id", "level", "evidence_note", "assessed_by", "assessed_on")


class ReadinessRulesError(ValueError):
    """The rules file, or a district's threshold override, does not fit the framework."""


@dataclass(frozen=True)
class Measure:
    """A number marts.readiness_measures computes, and the sentence that quotes it."""

    name: str
    unit: str  # "count" or "share" (0-1, shown as a percentage)
    evidence: str  # with {numerator}, {denominator} and {value} placeholders


@dataclass(frozen=True)
class Condition:
    """A level holds when `measure` is at least `at_least`."""

    measure: str
    at_least: float


@dataclass(frozen=True)
class MeasuredRule:
    """How data measures one indicator: from a measure and a threshold per level, or from the
    level another mart gives it (`source` = data_infrastructure_levels)."""

    indicator_id: str
    source: str
    measure: str | None = None
    conditions: Mapping[Level, Condition] = field(default_factory=dict)

    @property
    def threshold_keys(self) -> tuple[str, ...]:
        """The levels a district may set a threshold for (`practicing`, `sustaining`)."""
        return tuple(level.key for level in THRESHOLD_LEVELS if level in self.conditions)


@dataclass(frozen=True)
class MeasureValue:
    """One row of marts.readiness_measures: a value (None when nothing could be measured) and
    the counts behind it."""

    value: float | None
    numerator: int | None
    denominator: int | None


@dataclass(frozen=True)
class Measurement:
    """A measured level and what it rests on: a sentence for people, a mapping for machines."""

    level: Level
    evidence: str
    evidence_json: dict[str, Any]


@dataclass(frozen=True)
class ReadinessRules:
    """The whole scoring declaration: measures, measured rules and the two documented rules."""

    final_rule: str
    category_rule: str
    min_assessed_share: float
    measures: Mapping[str, Measure]
    rules: Mapping[str, MeasuredRule]

    def with_thresholds(self, overrides: Mapping[str, Mapping[str, float]]) -> ReadinessRules:
        """These rules with a district's thresholds (`{indicator id: {practicing: x, ...}}`)."""
        problems = threshold_override_problems(self, overrides)
        if problems:
            raise ReadinessRulesError("; ".join(problems))
        rules = dict(self.rules)
        for indicator_id, levels in overrides.items():
            rule = rules[indicator_id]
            conditions = dict(rule.conditions)
            for key, at_least in levels.items():
                level = Level(key.capitalize())
                conditions[level] = replace(conditions[level], at_least=float(at_least))
            rules[indicator_id] = replace(rule, conditions=conditions)
        return replace(self, rules=rules)


def threshold_override_problems(
    rules: ReadinessRules, overrides: Mapping[str, Mapping[str, float]]
) -> list[str]:
    """What is wrong with a district's threshold overrides, each with what to write instead."""
    problems = []
    thresholded = [i for i, r in rules.rules.items() if r.conditions]
    for indicator_id, levels in overrides.items():
        if indicator_id not in thresholded:
            close = difflib.get_close_matches(indicator_id, thresholded, n=1, cutoff=0.6)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else f"; indicators with thresholds: {', '.join(thresholded)}"
            )
            problems.append(f"{indicator_id!r} is not an indicator with measured thresholds{hint}")
            continue
        for key in levels:
            if key not in rules.rules[indicator_id].threshold_keys:
                problems.append(
                    f"{indicator_id}: {key!r} is not a level with a threshold "
                    f"(use {' or '.join(rules.rules[indicator_id].threshold_keys)})"
                )
    return problems


def load_readiness_rules(
    path: Path | None = None, framework: Framework | None = None
) -> ReadinessRules:
    """The scoring rules shipped with Pathways (or those at `path`), checked against the
    framework: every rule names a real indicator and a declared measure."""
    path = path or RULES_FILE
    framework = framework or load_framework()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ReadinessRulesError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(document, Mapping):
        raise ReadinessRulesError(f"{path}: expected a mapping")
    expected = {
        "final_rule",
        "category_rule",
        "min_assessed_share",
        "measures",
        "rules",
    }
    if set(document) != expected:
        raise ReadinessRulesError(
            f"{path}: expected exactly the keys {sorted(expected)}, found {sorted(document)}"
        )
    measures = {}
    for name, raw in document["measures"].items():
        if not isinstance(raw, Mapping) or set(raw) != {"unit", "evidence"}:
            raise ReadinessRulesError(f"{path}: measures.{name}: expected unit and evidence")
        if raw["unit"] not in ("count", "share"):
            raise ReadinessRulesError(f"{path}: measures.{name}.unit: count or share")
        measures[name] = Measure(name, raw["unit"], " ".join(str(raw["evidence"]).split()))
    indicator_ids = [indicator.id for indicator in framework.indicators]
    rules = {}
    for indicator_id, raw in document["rules"].items():
        where = f"{path}: rules.{indicator_id}"
        if indicator_id not in indicator_ids:
            close = difflib.get_close_matches(indicator_id, indicator_ids, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ReadinessRulesError(f"{where}: not an indicator of the framework{hint}")
        rules[indicator_id] = _rule(indicator_id, raw, measures, where)
    share = document["min_assessed_share"]
    if not isinstance(share, int | float) or not 0 <= share <= 1:
        raise ReadinessRulesError(f"{path}: min_assessed_share: a share from 0 to 1")
    return ReadinessRules(
        final_rule=" ".join(str(document["final_rule"]).split()),
        category_rule=" ".join(str(document["category_rule"]).split()),
        min_assessed_share=float(share),
        measures=measures,
        rules=rules,
    )


def _rule(indicator_id: str, raw: Any, measures: Mapping[str, Measure], where: str) -> MeasuredRule:
    if not isinstance(raw, Mapping):
        raise ReadinessRulesError(f"{where}: expected a mapping")
    if "from" in raw:
        if set(raw) != {"from"} or raw["from"] != INFRASTRUCTURE_SOURCE:
            raise ReadinessRulesError(
                f"{where}: a rule taken from another mart is `from: {INFRASTRUCTURE_SOURCE}` alone"
            )
        return MeasuredRule(indicator_id, INFRASTRUCTURE_SOURCE)
    allowed = {"measure", *(level.key for level in THRESHOLD_LEVELS)}
    if not set(raw) <= allowed or "measure" not in raw or Level.PRACTICING.key not in raw:
        raise ReadinessRulesError(
            f"{where}: expected `measure` and `practicing` (and optionally `sustaining`)"
        )
    conditions = {}
    for level in THRESHOLD_LEVELS:
        if level.key not in raw:
            continue
        given = raw[level.key]
        if isinstance(given, Mapping):
            condition = Condition(str(given.get("measure")), given.get("at_least"))
        else:
            condition = Condition(str(raw["measure"]), given)
        if condition.measure not in measures:
            raise ReadinessRulesError(f"{where}.{level.key}: unknown measure {condition.measure!r}")
        if not isinstance(condition.at_least, int | float):
            raise ReadinessRulesError(f"{where}.{level.key}: a threshold is a number")
        conditions[level] = replace(condition, at_least=float(condition.at_least))
    if raw["measure"] not in measures:
        raise ReadinessRulesError(f"{where}.measure: unknown measure {raw['measure']!r}")
    return MeasuredRule(indicator_id, MEASURES_SOURCE, str(raw["measure"]), conditions)


def measured_level(
    rule: MeasuredRule, values: Mapping[str, MeasureValue], measures: Mapping[str, Measure]
) -> Measurement | None:
    """The level tonight's numbers give an indicator, with the numbers; None when a measure it
    needs has no value (nothing to measure), so the indicator is not guessed."""
    needed = [rule.measure, *(c.measure for c in rule.conditions.values())]
    needed = list(dict.fromkeys(needed))
    found = {name: values.get(name) for name in needed}
    if any(v is None or v.value is None for v in found.values()):
        return None
    level = Level.STARTING
    for candidate in THRESHOLD_LEVELS:
        condition = rule.conditions.get(candidate)
        if condition is None or found[condition.measure].value < condition.at_least:
            break
        level = candidate
    sentences = [_sentence(measures[name], found[name]) for name in needed]
    thresholds = ", ".join(
        f"{level_.value} from {_shown(measures[c.measure], c.at_least)}"
        if c.measure == rule.measure
        else f"{level_.value} when {c.measure} >= {_shown(measures[c.measure], c.at_least)}"
        for level_, c in rule.conditions.items()
    )
    evidence = f"{'; '.join(sentences)}. Measured {level.value} ({thresholds})."
    evidence_json = {
        "measures": {
            name: {
                "value": found[name].value,
                "numerator": found[name].numerator,
                "denominator": found[name].denominator,
                "unit": measures[name].unit,
            }
            for name in needed
        },
        "thresholds": {
            level_.key: {"measure": c.measure, "at_least": c.at_least}
            for level_, c in rule.conditions.items()
        },
        "level": level.value,
    }
    return Measurement(level, evidence, evidence_json)


def _shown(measure: Measure, number: float) -> str:
    if measure.unit == "share":
        return (
            f"{number:.0%}" if math.isclose(number * 100, round(number * 100)) else f"{number:.1%}"
        )
    return f"{number:g}"


def _sentence(measure: Measure, value: MeasureValue) -> str:
    text = measure.evidence.format(
        numerator=f"{value.numerator:,}" if value.numerator is not None else "?",
        denominator=f"{value.denominator:,}" if value.denominator is not None else "?",
        value=_shown(measure, value.value),
    )
    return text[0].upper() + text[1:]


def level_rank(level: Level) -> int:
    """0 for Starting, 1 for Practicing, 2 for Sustaining."""
    return list(Level).index(level)


def final_level(measured: Level | None, self_assessed: Level | None) -> Level | None:
    """The indicator's level: measured when data can say (data wins), else self-assessed."""
    return measured if measured is not None else self_assessed


def indicator_flags(measured: Level | None, self_assessed: Level | None) -> list[str]:
    """Where the self-assessment and the data disagree, and which way."""
    if measured is None or self_assessed is None:
        return []
    if level_rank(self_assessed) > level_rank(measured):
        return [SELF_ASSESSMENT_ABOVE_MEASURED]
    if level_rank(self_assessed) < level_rank(measured):
        return [SELF_ASSESSMENT_BELOW_MEASURED]
    return []


def category_level(levels: Iterable[Level | None], min_assessed_share: float) -> Level | None:
    """The lowest level among assessed indicators; None (not assessed) when fewer than
    `min_assessed_share` of the category's indicators are assessed."""
    levels = list(levels)
    assessed = [level for level in levels if level is not None]
    if not levels or len(assessed) < min_assessed_share * len(levels):
        return None
    return min(assessed, key=level_rank)


# --- self-assessment ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SelfAssessment:
    """One indicator as the district assessed itself: the level, why, who (a role) and when."""

    indicator_id: str
    level: Level
    evidence_note: str
    assessed_by: str
    assessed_on: date
    line: int


@dataclass(frozen=True)
class RejectedSelfAssessment:
    """A row of the self-assessment file that was not used, and what to do about it."""

    file: str
    line: int
    field: str
    value: str
    reason: str


def read_self_assessment_rows(
    rows: Iterable[tuple[int, Mapping[str, str | None]]],
    file: str,
    framework: Framework,
    today: date,
) -> tuple[dict[str, SelfAssessment], list[RejectedSelfAssessment]]:
    """Validate the self-assessment file's rows (line number, column → text): the good rows by
    indicator, and each bad row with the file, line, field and a reason a person can act on.
    A bad row is left out; the others are kept."""
    indicator_ids = [indicator.id for indicator in framework.indicators]
    levels = {level.value.lower(): level for level in Level}
    kept: dict[str, SelfAssessment] = {}
    rejected: list[RejectedSelfAssessment] = []
    for line, row in rows:

        def reject(field_: str, reason: str, row=row, line=line, masked: bool = False) -> None:
            value = "(masked)" if masked else (row.get(field_) or "").strip()
            rejected.append(RejectedSelfAssessment(file, line, field_, value, reason))

        if None in row or any(value is None for value in row.values()):
            reject(
                "indicator_id",
                f"the row has a different number of fields than the header "
                f"({', '.join(SELF_ASSESSMENT_COLUMNS)}); quote a value that holds a comma",
            )
            continue
        indicator_id = (row.get("indicator_id") or "").strip()
        if indicator_id not in indicator_ids:
            close = difflib.get_close_matches(indicator_id, indicator_ids, n=1, cutoff=0.6)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else "; use an indicator id of models/readiness_framework.yaml"
            )
            reject("indicator_id", f"{indicator_id!r} is not an indicator of the framework{hint}")
            continue
        level = levels.get((row.get("level") or "").strip().lower())
        if level is None:
            reject("level", "write Starting, Practicing or Sustaining")
            continue
        assessed_by = (row.get("assessed_by") or "").strip()
        if not assessed_by:
            reject("assessed_by", "write the role of who assessed it (e.g. Superintendent)")
            continue
        if "@" in assessed_by:
            reject(
                "assessed_by",
                "write a role (e.g. Director of Technology), not an email address: the "
                "dashboard is public to the district",
                masked=True,
            )
            continue
        text = (row.get("assessed_on") or "").strip()
        try:
            assessed_on = date.fromisoformat(text)
        except ValueError:
            reject("assessed_on", f"{text!r} is not a date; write it as YYYY-MM-DD")
            continue
        if assessed_on > today:
            reject("assessed_on", f"{text} is in the future; write the date it was assessed")
            continue
        if indicator_id in kept:
            reject(
                "indicator_id",
                f"{indicator_id} is already assessed on line {kept[indicator_id].line}; keep "
                "one row per indicator (the first is used)",
            )
            continue
        kept[indicator_id] = SelfAssessment(
            indicator_id=indicator_id,
            level=level,
            evidence_note=(row.get("evidence_note") or "").strip(),
            assessed_by=assessed_by,
            assessed_on=assessed_on,
            line=line,
        )
    return kept, rejected
