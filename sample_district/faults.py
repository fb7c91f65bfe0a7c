"""A handful of the data faults real SIS exports carry, added to the sample district's export so
the demo shows what Pathways does with them: each is rejected with a reason, the rest loads."""

import csv
from pathlib import Path


def add_typical_faults(oneroster_path: Path) -> list[str]:
    """Append a few faulty rows to a generated export; returns what each fault is."""
    faults = []

    enrollment = _first_row(oneroster_path / "enrollments.csv")
    orphan = {**enrollment, "sourcedId": "enr-fault-1", "classSourcedId": "cls-retired-0001"}
    wrong_case = {**enrollment, "sourcedId": "enr-fault-2", "role": "Student"}
    _append(oneroster_path / "enrollments.csv", [orphan, wrong_case])
    faults.append("enrollments.csv: an enrollment in a class the SIS no longer exports")
    faults.append("enrollments.csv: a role written 'Student' instead of 'student'")

    result = _first_row(oneroster_path / "results.csv")
    _append(
        oneroster_path / "results.csv",
        [{**result, "sourcedId": "res-fault-1", "scoreDate": "2026-09-31"}],
    )
    faults.append("results.csv: a score date that does not exist (September 31)")

    demographics = _first_row(oneroster_path / "demographics.csv")
    _append(oneroster_path / "demographics.csv", [{**demographics, "sex": "F"}])
    faults.append("demographics.csv: the same learner twice, the second time with sex 'F'")
    return faults


def _first_row(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return next(csv.DictReader(fh))


def _append(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    with path.open("a", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writerows(rows)
