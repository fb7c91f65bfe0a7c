"""Small, realistic OneRoster CSV packages for tests: a district as Python dicts, written out.

`district_1p2()` / `district_1p1()` give a valid two-school district; a test changes the rows it
cares about and `write_package` writes the files plus a manifest that marks them bulk (or as
told). A file given as text is written byte for byte, for BOM, CRLF and malformed-row tests.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from models.oneroster_spec import spec_columns

Rows = list[dict[str, str]]


def district_1p2(students: int = 3) -> dict[str, Rows]:
    """A valid OneRoster 1.2 district: one district org, two schools, a class, its learners."""
    learners = [f"stu-{i}" for i in range(1, students + 1)]
    return {
        "orgs.csv": [
            _row(sourcedId="org-district", name="Riverside USD", type="district"),
            _row(
                sourcedId="org-hs",
                name="Riverside High",
                type="school",
                parentSourcedId="org-district",
            ),
            _row(
                sourcedId="org-ms",
                name="Riverside Middle",
                type="school",
                parentSourcedId="org-district",
            ),
        ],
        "academicSessions.csv": [
            _row(
                sourcedId="as-2025",
                title="2024-2025",
                type="schoolYear",
                startDate="2024-08-15",
                endDate="2025-06-15",
                schoolYear="2025",
            ),
            _row(
                sourcedId="as-fall",
                title="Fall 2024",
                type="term",
                startDate="2024-08-15",
                endDate="2024-12-20",
                parentSourcedId="as-2025",
                schoolYear="2025",
            ),
        ],
        "courses.csv": [
            _row(
                sourcedId="crs-bio",
                title="Biology",
                orgSourcedId="org-hs",
                schoolYearSourcedId="as-2025",
            ),
        ],
        "classes.csv": [
            _row(
                sourcedId="cls-bio-1",
                title="Biology, Period 1",
                courseSourcedId="crs-bio",
                classType="scheduled",
                schoolSourcedId="org-hs",
                termSourcedIds="as-fall",
            ),
        ],
        "users.csv": [
            _row(
                sourcedId="tch-1",
                enabledUser="true",
                username="mrivera",
                givenName="Marta",
                familyName="Rivera",
                primaryOrgSourcedId="org-hs",
            ),
            *(
                _row(
                    sourcedId=sid,
                    enabledUser="true",
                    username=f"learner{i}",
                    givenName=f"Ana{i}",
                    familyName="García",
                    primaryOrgSourcedId="org-hs",
                    agentSourcedIds="grd-1" if i == 1 else "",
                )
                for i, sid in enumerate(learners, start=1)
            ),
            _row(
                sourcedId="grd-1",
                enabledUser="true",
                username="pgarcia",
                givenName="Pablo",
                familyName="García",
            ),
        ],
        "roles.csv": [
            _row(
                sourcedId="rol-tch-1",
                userSourcedId="tch-1",
                roleType="primary",
                role="teacher",
                orgSourcedId="org-hs",
            ),
            *(
                _row(
                    sourcedId=f"rol-{sid}",
                    userSourcedId=sid,
                    roleType="primary",
                    role="student",
                    orgSourcedId="org-hs",
                )
                for sid in learners
            ),
        ],
        "demographics.csv": [
            _row(sourcedId=sid, birthDate="2009-03-14", sex="female") for sid in learners
        ],
        "enrollments.csv": [
            _row(
                sourcedId="enr-tch-1",
                classSourcedId="cls-bio-1",
                schoolSourcedId="org-hs",
                userSourcedId="tch-1",
                role="teacher",
                primary="true",
            ),
            *(
                _row(
                    sourcedId=f"enr-{sid}",
                    classSourcedId="cls-bio-1",
                    schoolSourcedId="org-hs",
                    userSourcedId=sid,
                    role="student",
                    beginDate="2024-08-15",
                )
                for sid in learners
            ),
        ],
        "lineItems.csv": [
            _row(
                sourcedId="li-lab-1",
                title="Lab report 1",
                assignDate="2024-09-02",
                dueDate="2024-09-09",
                classSourcedId="cls-bio-1",
                categorySourcedId="cat-labs",
                academicSessionSourcedId="as-fall",
                resultValueMin="0",
                resultValueMax="100",
                schoolSourcedId="org-hs",
            ),
        ],
        "results.csv": [
            _row(
                sourcedId=f"res-{sid}",
                lineItemSourcedId="li-lab-1",
                studentSourcedId=sid,
                scoreStatus="fully graded",
                score="87.5",
                scoreDate="2024-09-10",
            )
            for sid in learners
        ],
    }


def district_1p1(students: int = 3) -> dict[str, Rows]:
    """The same district as a OneRoster 1.1 export: roles on users, gradingPeriod on lineItems."""
    district = district_1p2(students)
    roles = {r["userSourcedId"]: r["role"] for r in district.pop("roles.csv")}
    users = []
    for user in district["users.csv"]:
        primary_org = user.pop("primaryOrgSourcedId", "")
        users.append(
            {
                **user,
                "orgSourcedIds": primary_org or "org-hs",
                "role": roles.get(user["sourcedId"], "guardian"),
            }
        )
    district["users.csv"] = users
    for line_item in district["lineItems.csv"]:
        line_item["gradingPeriodSourcedId"] = line_item.pop("academicSessionSourcedId")
        line_item.pop("schoolSourcedId")
    return district


def _row(**values: str) -> dict[str, str]:
    return dict(values)


def csv_text(rows: Rows, columns: list[str] | None = None, newline: str = "\n") -> str:
    """Rows as OneRoster CSV text; the header is `columns` or every key in first-seen order."""
    if columns is None:
        columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator=newline)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_package(
    folder: Path,
    files: dict[str, Rows | str | bytes],
    version: str = "1.2",
    modes: dict[str, str] | None = None,
) -> Path:
    """Write an export folder: each file (rows, text or bytes) and a manifest marking the files
    given bulk and every other file of the version absent, unless `modes` says otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    modes = modes or {}
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_bytes(content.encode())
        else:
            path.write_bytes(csv_text(content).encode())
    manifest = [
        {"propertyName": "manifest.version", "value": "1.0"},
        {"propertyName": "oneroster.version", "value": version},
    ]
    # A manifest for an unsupported version (a test of its rejection) lists the 1.2 files.
    spec_version = "1.1" if version.startswith("1.1") else "1.2"
    for name in sorted(set(spec_columns(spec_version)) | set(modes)):
        mode = modes.get(name, "bulk" if name in files else "absent")
        manifest.append({"propertyName": f"file.{name.removesuffix('.csv')}", "value": mode})
    (folder / "manifest.csv").write_text(csv_text(manifest), encoding="utf-8")
    return folder


def zip_package(folder: Path, zip_path: Path, top_folder: str = "") -> Path:
    """Zip an export folder, its files at the zip root or inside one top folder."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{top_folder}/{path.name}" if top_folder else path.name)
    return zip_path
