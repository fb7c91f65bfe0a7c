"""The sample LMS's data: a generated district as its Canvas and its OneRoster REST service see it.

Built once, at start-up, into an in-memory DuckDB database from the district's OneRoster CSV
export. Each served row's JSON is rendered once into a column (`Rendering`) and re-rendered when a
mutation changes the row; a request then runs one small query on its thread's cursor, so a page
costs milliseconds however large the district. Everything is a pure function of the export: the same
folder gives the same ids, identities, states and timestamps (see `as_of` for the one exception).

How the SIS district looks in Canvas, as in a district that syncs its SIS into Canvas:

- Account 1 is the district; each school is a sub-account (ids 2… in school sourcedId order).
- Enrollment terms are the academicSessions of type `schoolYear` and `semester` (ids 1… by start
  date). A class taught in one session sits in that term; a class listed in several (a secondary
  year-long class lists both semesters) sits in their common parent, the school year.
- Courses are OneRoster classes (a Canvas course is a section): id = 1000 + the class's rank by
  sourcedId, `sis_course_id` = the class sourcedId. Each course has one section, whose id is the
  course's id.
- Users are the SIS students and teachers (guardians are not in Canvas): id = 10000 + rank by
  sourcedId. Identity is drawn per learner from `md5(sourcedId || '/canvas-identity')` (its first
  32 bits mod 10,000, over 10,000):
    * below 0.03 (~3% of learners): no `sis_user_id`, but `login_id` = the SIS `username` and
      `email` = the SIS email, so they link by username or email only;
    * otherwise `sis_user_id` = the SIS sourcedId (teachers always).
  On top, round(1% of learners) guest and test accounts exist that the SIS has never heard of
  (unlinkable): odd ones are Canvas "Test Student" accounts without a login or email, even ones
  `guest.learner.N` logins; each is a student in three courses that have assignments, with
  submissions and outcome results of their own. Of all Canvas student accounts that makes ~96%
  linkable by SIS id, ~3% by username/email and ~1% not at all.
- Enrollments come from OneRoster enrollments (student → StudentEnrollment, teacher →
  TeacherEnrollment, aide → TaEnrollment), id = rank by enrollment sourcedId. A student
  enrollment's state is drawn from `md5(sourcedId || '/canvas-state')`: 1% inactive, 1%
  completed, 1% deleted, 0.5% invited, the rest active.
- Outcomes are the learning objectives the export aligns to (CASE ids): `vendor_guid` = the CASE
  id; titles come from the sample competency framework. Mastery 3 of 4 points; the calculation
  method depends on the competency set (`CALCULATION_METHODS`).
- Assignments are lineItems (`sis_assignment_id` = lineItem sourcedId), due 23:59 Central on the
  due date; each aligned objective is a rubric criterion carrying `outcome_id` and
  `vendor_guid`, as Canvas's assignment JSON does.
- Submissions are results; outcome results are resultLearningObjectiveIds rows.

Timestamps: rostering records were last modified a week before the first session starts;
submissions were submitted up to 110 hours before the due date (~8% up to 10 hours late) and
graded on the result's scoreDate. No timestamp is later than `as_of`, the instant the data is "as
of": by default midnight UTC after the last scoreDate, or today's midnight UTC if that is still
to come (then the data depends on the day it is served, not only on the folder). Mutations
(`regrade`, `drop_enrollments`) stamp the real current time, so an incremental client sees them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import yaml

from models.oneroster_spec import spec_columns
from sample_district.generate import COMPETENCY_SETS, sample_competencies

ONEROSTER_VERSION = "1.2"

# Canvas's default outcome proficiency scale; the sample district's results are scored 1-4.
MASTERY_POINTS = 3.0
POINTS_POSSIBLE = 4.0
RATINGS = (
    ("Exceeds Mastery", 4.0),
    ("Mastery", 3.0),
    ("Near Mastery", 2.0),
    ("Below Mastery", 1.0),
    ("No Evidence", 0.0),
)
# How each competency set's outcome scores roll up (Canvas `calculation_method`, `_int`).
CALCULATION_METHODS: dict[str, tuple[str, int | None]] = {
    "durable": ("highest", None),
    "arts": ("latest", None),
}
DEFAULT_CALCULATION = ("decaying_average", 65)

CANVAS_STUDENT_STATES = (
    (0.01, "inactive"),
    (0.02, "completed"),
    (0.03, "deleted"),
    (0.035, "invited"),
)
USERNAME_ONLY_SHARE = 0.03
GUEST_SHARE = 0.01
GUEST_COURSES = 3

COURSE_ID_BASE = 1000
_PARAMETER = re.compile(r"\$(\w+)")
USER_ID_BASE = 10000

_FILES = (
    "orgs.csv",
    "academicSessions.csv",
    "courses.csv",
    "classes.csv",
    "users.csv",
    "roles.csv",
    "enrollments.csv",
    "demographics.csv",
    "categories.csv",
    "lineItems.csv",
    "lineItemLearningObjectiveIds.csv",
    "results.csv",
    "resultLearningObjectiveIds.csv",
)

_MACROS = (
    # A uniform draw in [0, 1) that anyone can recompute: the first 32 bits of md5, mod 10,000.
    "CREATE MACRO draw(key) AS (('0x' || substr(md5(key), 1, 8))::UBIGINT % 10000) / 10000.0",
    "CREATE MACRO csv_list(s) AS CASE WHEN nullif(trim(s), '') IS NULL THEN []::VARCHAR[] "
    "ELSE list_transform(string_split(s, ','), lambda x: trim(x)) END",
    "CREATE MACRO or_bool(s) AS CASE lower(trim(s)) WHEN 'true' THEN true "
    "WHEN 'false' THEN false END",
    "CREATE MACRO or_time(s, fallback) AS coalesce(try_strptime(s, "
    "['%Y-%m-%dT%H:%M:%S.%gZ', '%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%d']), fallback)",
    "CREATE MACRO or_status(s) AS coalesce(nullif(trim(s), ''), 'active')",
    "CREATE MACRO iso_ms(t) AS strftime(t, '%Y-%m-%dT%H:%M:%S.%gZ')",
    "CREATE MACRO iso_s(t) AS strftime(t, '%Y-%m-%dT%H:%M:%SZ')",
    # OneRoster 1.2 dates stay dates; its DateTimes gain a time when the CSV held only a date.
    "CREATE MACRO or_datetime(s) AS CASE WHEN nullif(s, '') IS NULL THEN NULL "
    "WHEN contains(s, 'T') THEN s ELSE s || 'T00:00:00.000Z' END",
    "CREATE MACRO ref(base, path, id, kind) AS CASE WHEN nullif(id, '') IS NULL THEN NULL "
    "ELSE struct_pack(href := base || path || id, sourcedId := id, type := kind) END",
    "CREATE MACRO refs(base, path, ids, kind) AS "
    "list_transform(ids, lambda i: ref(base, path, i, kind))",
    # Canvas shows a points grade without a trailing `.0`.
    "CREATE MACRO points_grade(score) AS CASE WHEN score IS NULL THEN NULL "
    "WHEN score = floor(score) THEN CAST(score::BIGINT AS VARCHAR) "
    "ELSE CAST(score AS VARCHAR) END",
)

_ONEROSTER_TABLES = (
    """CREATE TABLE or_orgs AS
    SELECT row_number() OVER (ORDER BY o.sourcedId) AS rn, o.sourcedId, or_status(o.status)
        AS status, or_time(o.dateLastModified, $roster_at) AS dlm, o.name, o.type, o.identifier,
        nullif(o.parentSourcedId, '') AS parentSourcedId,
        coalesce((SELECT list(c.sourcedId ORDER BY c.sourcedId) FROM src_orgs c
                  WHERE c.parentSourcedId = o.sourcedId), []) AS children
    FROM src_orgs o ORDER BY o.sourcedId""",
    """CREATE TABLE or_academic_sessions AS
    SELECT row_number() OVER (ORDER BY s.sourcedId) AS rn, s.sourcedId, or_status(s.status)
        AS status, or_time(s.dateLastModified, $roster_at) AS dlm, s.title, s.type,
        s.startDate, s.endDate, nullif(s.parentSourcedId, '') AS parentSourcedId, s.schoolYear,
        coalesce((SELECT list(c.sourcedId ORDER BY c.sourcedId) FROM src_academicSessions c
                  WHERE c.parentSourcedId = s.sourcedId), []) AS children
    FROM src_academicSessions s ORDER BY s.sourcedId""",
    """CREATE TABLE or_courses AS
    SELECT row_number() OVER (ORDER BY sourcedId) AS rn, sourcedId, or_status(status) AS status,
        or_time(dateLastModified, $roster_at) AS dlm, title, schoolYearSourcedId, courseCode,
        csv_list(grades) AS grades, orgSourcedId, csv_list(subjects) AS subjects,
        csv_list(subjectCodes) AS subjectCodes
    FROM src_courses ORDER BY sourcedId""",
    """CREATE TABLE or_classes AS
    SELECT row_number() OVER (ORDER BY sourcedId) AS rn, sourcedId, or_status(status) AS status,
        or_time(dateLastModified, $roster_at) AS dlm, title, csv_list(grades) AS grades,
        courseSourcedId, classCode, classType, location, schoolSourcedId,
        csv_list(termSourcedIds) AS terms, csv_list(subjects) AS subjects,
        csv_list(subjectCodes) AS subjectCodes, csv_list(periods) AS periods
    FROM src_classes ORDER BY sourcedId""",
    """CREATE TABLE or_users AS
    SELECT row_number() OVER (ORDER BY u.sourcedId) AS rn, u.sourcedId, or_status(u.status)
        AS status, or_time(u.dateLastModified, $roster_at) AS dlm, or_bool(u.enabledUser)
        AS enabledUser, u.username, csv_list(u.userIds) AS userIds, u.givenName, u.familyName,
        u.middleName, u.identifier, u.email, u.sms, u.phone, csv_list(u.agentSourcedIds)
        AS agents, csv_list(u.grades) AS grades, u.userMasterIdentifier, u.preferredGivenName,
        u.preferredMiddleName, u.preferredFamilyName, u.primaryOrgSourcedId, u.pronouns,
        coalesce(r.roles, []) AS roles
    FROM src_users u
    LEFT JOIN (
        SELECT userSourcedId, list(struct_pack(roleType := roleType, role := role,
            org := orgSourcedId, userProfile := nullif(userProfileSourcedId, ''),
            beginDate := beginDate, endDate := endDate)
            ORDER BY roleType = 'primary' DESC, orgSourcedId, role) AS roles
        FROM src_roles GROUP BY userSourcedId
    ) r ON r.userSourcedId = u.sourcedId
    ORDER BY u.sourcedId""",
    """CREATE TABLE or_enrollments AS
    SELECT row_number() OVER (ORDER BY sourcedId) AS rn, sourcedId, or_status(status) AS status,
        or_time(dateLastModified, $roster_at) AS dlm, classSourcedId, schoolSourcedId,
        userSourcedId, role, or_bool("primary") AS "primary", beginDate, endDate
    FROM src_enrollments ORDER BY sourcedId""",
    """CREATE TABLE or_categories AS
    SELECT row_number() OVER (ORDER BY sourcedId) AS rn, sourcedId, or_status(status) AS status,
        or_time(dateLastModified, $roster_at) AS dlm, title, try_cast(weight AS DOUBLE) AS weight
    FROM src_categories ORDER BY sourcedId""",
    # The export has no score scales; the sample serves the one its 1-4 mastery scores use.
    """CREATE TABLE or_score_scales AS
    SELECT 1 AS rn, 'scale-mastery-1-4' AS sourcedId, 'active' AS status, $roster_at AS dlm,
        'Competency mastery (1-4)' AS title, 'competency' AS type,
        [struct_pack(itemValueLHS := '1', itemValueRHS := 'Beginning'),
         struct_pack(itemValueLHS := '2', itemValueRHS := 'Developing'),
         struct_pack(itemValueLHS := '3', itemValueRHS := 'Proficient'),
         struct_pack(itemValueLHS := '4', itemValueRHS := 'Advanced')] AS scoreScaleValue""",
    """CREATE TABLE or_line_items AS
    SELECT row_number() OVER (ORDER BY li.sourcedId) AS rn, li.sourcedId, or_status(li.status)
        AS status, least(or_time(li.dateLastModified,
            try_cast(li.assignDate AS DATE) + INTERVAL 12 HOUR), $as_of) AS dlm,
        li.title, li.description, li.assignDate, li.dueDate, li.classSourcedId,
        li.categorySourcedId, li.academicSessionSourcedId, li.schoolSourcedId,
        try_cast(li.resultValueMin AS DOUBLE) AS resultValueMin,
        try_cast(li.resultValueMax AS DOUBLE) AS resultValueMax,
        coalesce(o.objectives, []) AS objectives
    FROM src_lineItems li
    LEFT JOIN (SELECT lineItemSourcedId, list(learningObjectiveId ORDER BY sourcedId)
               AS objectives FROM src_lineItemLearningObjectiveIds GROUP BY 1) o
        ON o.lineItemSourcedId = li.sourcedId
    ORDER BY li.sourcedId""",
    # Submitted up to 110 hours before the due date (23:59 Central, 05:59 UTC the next day), a
    # twelfth of them up to 10 hours late; graded on the scoreDate's working day.
    """CREATE TABLE or_results AS
    WITH timed AS (
        SELECT r.*, coalesce(try_cast(li.dueDate AS DATE) + INTERVAL '1 day 5 hours 59 minutes',
                             try_cast(r.scoreDate AS DATE) - INTERVAL 1 DAY) AS due_at
        FROM src_results r LEFT JOIN src_lineItems li ON li.sourcedId = r.lineItemSourcedId
    ), submitted AS (
        SELECT *, least(due_at - to_minutes(
                    floor(draw(sourcedId || '/submitted') * 7200)::BIGINT - 600), $as_of)
               AS submitted_at
        FROM timed
    ), graded AS (
        SELECT *, least(greatest(
                    try_cast(scoreDate AS DATE) + INTERVAL 13 HOUR
                        + to_minutes(floor(draw(sourcedId || '/graded') * 480)::BIGINT),
                    submitted_at + INTERVAL 1 HOUR), $as_of) AS graded_at
        FROM submitted
    )
    SELECT row_number() OVER (ORDER BY g.sourcedId) AS rn, g.sourcedId, or_status(g.status)
        AS status, or_time(g.dateLastModified, g.graded_at) AS dlm, g.lineItemSourcedId,
        g.studentSourcedId, g.classSourcedId, g.scoreStatus, try_cast(g.score AS DOUBLE) AS score,
        g.scoreDate, g.comment, g.textScore, or_bool(g.inProgress) AS inProgress,
        or_bool(g.incomplete) AS incomplete, or_bool(g.late) AS late,
        or_bool(g.missing) AS missing, g.submitted_at, g.graded_at,
        coalesce(o.objectives, []) AS objectives
    FROM graded g
    LEFT JOIN (SELECT resultSourcedId, list(struct_pack(learningObjectiveId := learningObjectiveId,
                   score := try_cast(score AS DOUBLE)) ORDER BY sourcedId) AS objectives
               FROM src_resultLearningObjectiveIds GROUP BY 1) o
        ON o.resultSourcedId = g.sourcedId
    ORDER BY g.sourcedId""",
)

_CANVAS_TABLES = (
    """CREATE TABLE cv_accounts AS
    SELECT 1 AS id, (SELECT min(sourcedId) FROM or_orgs WHERE type = 'district')
               AS sis_account_id,
           coalesce((SELECT min(name) FROM or_orgs WHERE type = 'district'), $district_name)
               AS name, NULL::BIGINT AS parent_account_id
    UNION ALL
    SELECT 1 + row_number() OVER (ORDER BY sourcedId), sourcedId, name, 1
    FROM or_orgs WHERE type <> 'district'
    ORDER BY id""",
    """CREATE TABLE cv_terms AS
    SELECT row_number() OVER (ORDER BY startDate, type <> 'schoolYear', sourcedId) AS id,
        sourcedId AS sis_term_id, title AS name, parentSourcedId,
        try_cast(startDate AS DATE) + INTERVAL 6 HOUR AS start_at,
        try_cast(endDate AS DATE) + INTERVAL 6 HOUR AS end_at
    FROM or_academic_sessions WHERE type IN ('schoolYear', 'semester')
    ORDER BY id""",
    """CREATE TABLE cv_courses AS
    WITH placed AS (
        SELECT c.*,
            (SELECT list(t.id ORDER BY t.id) FROM cv_terms t
             WHERE list_contains(c.terms, t.sis_term_id)) AS term_ids,
            (SELECT min(t.id) FROM cv_terms t WHERE t.sis_term_id = (
                SELECT min(s.parentSourcedId) FROM or_academic_sessions s
                WHERE list_contains(c.terms, s.sourcedId))) AS parent_term_id
        FROM or_classes c
    )
    SELECT $course_base + p.rn AS id, p.sourcedId AS sis_course_id, p.title AS name,
        coalesce(p.classCode, co.courseCode, p.sourcedId) AS course_code,
        CASE WHEN len(p.term_ids) = 1 THEN p.term_ids[1]
             ELSE coalesce(p.parent_term_id, p.term_ids[1]) END AS enrollment_term_id,
        coalesce(a.id, 1) AS account_id, p.classType = 'homeroom' AS homeroom_course,
        md5(p.sourcedId) AS uuid, $roster_at AS created_at
    FROM placed p
    LEFT JOIN or_courses co ON co.sourcedId = p.courseSourcedId
    LEFT JOIN cv_accounts a ON a.sis_account_id = p.schoolSourcedId
    ORDER BY id""",
    """CREATE TABLE cv_users AS
    WITH people AS (
        SELECT *, roles[1].role AS role FROM or_users
    ), canvas AS (
        SELECT *, CASE WHEN role = 'student' AND draw(sourcedId || '/canvas-identity')
                            < $username_only THEN 'username' ELSE 'sis' END AS identity
        FROM people WHERE role IN ('student', 'teacher', 'aide')
    )
    SELECT $user_base + row_number() OVER (ORDER BY sourcedId) AS id, sourcedId AS sourced_id,
        CASE identity WHEN 'sis' THEN sourcedId END AS sis_user_id, username AS login_id,
        coalesce(nullif(preferredGivenName, ''), givenName) AS first_name,
        coalesce(nullif(preferredFamilyName, ''), familyName) AS last_name,
        first_name || ' ' || last_name AS name, last_name || ', ' || first_name AS sortable_name,
        email, CASE role WHEN 'student' THEN 'student' ELSE 'teacher' END AS kind, identity,
        $roster_at AS created_at
    FROM canvas
    ORDER BY id""",
    # Guests and test accounts the SIS never heard of; odd ones are Canvas Student View users.
    """INSERT INTO cv_users
    SELECT (SELECT max(id) FROM cv_users) + k, NULL, NULL,
        CASE WHEN k % 2 = 0 THEN 'guest.learner.' || k END,
        CASE WHEN k % 2 = 0 THEN 'Guest' ELSE 'Test' END,
        CASE WHEN k % 2 = 0 THEN 'Learner ' || k ELSE 'Student ' || k END,
        CASE WHEN k % 2 = 0 THEN 'Guest Learner ' || k ELSE 'Test Student ' || k END,
        CASE WHEN k % 2 = 0 THEN 'Learner ' || k || ', Guest' ELSE 'Student ' || k || ', Test'
        END,
        CASE WHEN k % 2 = 0 THEN 'guest.learner.' || k || '@' || $guest_domain END,
        'guest', 'unlinked', $roster_at
    FROM range(1, $guests + 1) AS t(k)""",
    """CREATE TABLE cv_outcomes AS
    WITH used AS (
        SELECT learningObjectiveId AS guid FROM src_lineItemLearningObjectiveIds
        UNION SELECT learningObjectiveId FROM src_resultLearningObjectiveIds
    ), known AS (
        SELECT unnest($known_ids) AS guid, unnest($known_sets) AS competency_set,
               unnest($known_codes) AS code, unnest($known_titles) AS title,
               unnest($known_set_titles) AS set_title, unnest($known_methods) AS method,
               unnest($known_ints) AS calculation_int,
               generate_subscripts($known_ids, 1) AS position
    )
    SELECT row_number() OVER (ORDER BY k.position NULLS LAST, u.guid) AS id, u.guid AS vendor_guid,
        coalesce(k.code || ' ' || k.title, u.guid) AS title, k.title AS display_name,
        coalesce(k.set_title || ': ' || k.title, 'Learning objective ' || u.guid) AS description,
        coalesce(k.competency_set, 'other') AS competency_set,
        coalesce(k.set_title, 'Other learning objectives') AS set_title,
        coalesce(k.method, $default_method) AS calculation_method,
        CASE WHEN k.guid IS NULL THEN $default_int ELSE k.calculation_int END AS calculation_int
    FROM used u LEFT JOIN known k USING (guid)
    WHERE u.guid IS NOT NULL
    ORDER BY id""",
    # The account's root outcome group (id 1) holds one group per competency set.
    """CREATE TABLE cv_outcome_groups AS
    SELECT 1 + row_number() OVER (ORDER BY min(id)) AS id, set_title AS title, competency_set
    FROM cv_outcomes GROUP BY set_title, competency_set
    ORDER BY id""",
    """CREATE TABLE cv_assignments AS
    WITH rubric AS (
        SELECT lio.lineItemSourcedId, list(struct_pack(n := lio.n, outcome_id := o.id,
                   vendor_guid := o.vendor_guid, description := o.title,
                   long_description := o.description) ORDER BY lio.n) AS rubric
        FROM (SELECT *, row_number() OVER (PARTITION BY lineItemSourcedId ORDER BY sourcedId)
                  AS n FROM src_lineItemLearningObjectiveIds) lio
        JOIN cv_outcomes o ON o.vendor_guid = lio.learningObjectiveId
        GROUP BY 1
    )
    SELECT li.rn AS id, c.id AS course_id, li.sourcedId AS sis_assignment_id, li.title AS name,
        li.description, coalesce(li.resultValueMax, $points_possible) AS points_possible,
        try_cast(li.dueDate AS DATE) + INTERVAL '1 day 5 hours 59 minutes' AS due_at,
        try_cast(li.assignDate AS DATE) + INTERVAL 13 HOUR AS unlock_at,
        least(coalesce(try_cast(li.assignDate AS DATE) + INTERVAL 12 HOUR, $roster_at), $as_of)
            AS created_at,
        row_number() OVER (PARTITION BY c.id ORDER BY li.dueDate, li.sourcedId) AS position,
        coalesce(r.rubric, []) AS rubric
    FROM or_line_items li
    JOIN cv_courses c ON c.sis_course_id = li.classSourcedId
    LEFT JOIN rubric r ON r.lineItemSourcedId = li.sourcedId
    ORDER BY id""",
    """CREATE TABLE cv_enrollments AS
    SELECT row_number() OVER (ORDER BY e.sourcedId) AS id, c.id AS course_id, u.id AS user_id,
        CASE e.role WHEN 'student' THEN 'StudentEnrollment' WHEN 'teacher' THEN 'TeacherEnrollment'
             ELSE 'TaEnrollment' END AS type,
        CASE WHEN e.role <> 'student' THEN 'active'
             WHEN draw(e.sourcedId || '/canvas-state') < $inactive THEN 'inactive'
             WHEN draw(e.sourcedId || '/canvas-state') < $completed THEN 'completed'
             WHEN draw(e.sourcedId || '/canvas-state') < $deleted THEN 'deleted'
             WHEN draw(e.sourcedId || '/canvas-state') < $invited THEN 'invited'
             ELSE 'active' END AS enrollment_state,
        $roster_at AS created_at, e.sourcedId AS sis_enrollment_id
    FROM or_enrollments e
    JOIN cv_courses c ON c.sis_course_id = e.classSourcedId
    JOIN cv_users u ON u.sourced_id = e.userSourcedId
    WHERE e.role IN ('student', 'teacher', 'aide')
    ORDER BY id""",
    # A state changed some day in the first 60 days of the year.
    """ALTER TABLE cv_enrollments ADD COLUMN updated_at TIMESTAMP""",
    """UPDATE cv_enrollments SET updated_at = CASE WHEN enrollment_state = 'active' THEN created_at
        ELSE least(created_at + to_minutes(floor(draw(sis_enrollment_id || '/changed') * 86400)
                                           ::BIGINT), $as_of) END""",
    """INSERT INTO cv_enrollments
    WITH pool AS (
        SELECT list(DISTINCT course_id ORDER BY course_id) AS ids FROM cv_assignments
    ), picks AS (
        SELECT DISTINCT u.id AS user_id,
            pool.ids[1 + (('0x' || substr(md5(u.id || '/guest-course/' || j), 1, 8))::UBIGINT
                          % len(pool.ids))::BIGINT] AS course_id
        FROM cv_users u, pool, range($guest_courses) AS t(j)
        WHERE u.kind = 'guest' AND len(pool.ids) > 0
    )
    SELECT (SELECT max(id) FROM cv_enrollments)
               + row_number() OVER (ORDER BY user_id, course_id),
        course_id, user_id, 'StudentEnrollment', 'active', $roster_at, NULL, $roster_at
    FROM picks""",
    """CREATE TABLE cv_submissions AS
    SELECT r.rn AS id, a.course_id, a.id AS assignment_id, u.id AS user_id,
        r.sourcedId AS result_sourced_id, r.score, r.submitted_at, r.graded_at, a.due_at
    FROM or_results r
    JOIN cv_assignments a ON a.sis_assignment_id = r.lineItemSourcedId
    JOIN cv_users u ON u.sourced_id = r.studentSourcedId
    ORDER BY id""",
    """CREATE TABLE cv_outcome_results AS
    SELECT row_number() OVER (ORDER BY s.id, o.n) AS id, s.course_id, s.user_id,
        c.id AS outcome_id, s.assignment_id, s.id AS submission_id, o.score,
        s.result_sourced_id, o.n
    FROM cv_submissions s
    JOIN (SELECT sourcedId, struct_extract(lo, 'learningObjectiveId') AS guid,
                 struct_extract(lo, 'score') AS score, n
          FROM (SELECT sourcedId, unnest(objectives) AS lo,
                       generate_subscripts(objectives, 1) AS n FROM or_results)) o
        ON o.sourcedId = s.result_sourced_id
    JOIN cv_outcomes c ON c.vendor_guid = o.guid
    ORDER BY id""",
    # Guests' own work: one submission per assignment of their courses, scored per criterion.
    """CREATE TEMP TABLE guest_scores AS
    SELECT e.user_id, a.course_id, a.id AS assignment_id, a.due_at, crit.n, crit.outcome_id,
        1 + floor(draw(e.user_id || '/' || a.id || '/' || crit.n) * 4) AS score
    FROM cv_enrollments e
    JOIN cv_users u ON u.id = e.user_id AND u.kind = 'guest'
    JOIN (SELECT *, unnest(rubric) AS crit FROM cv_assignments) a ON a.course_id = e.course_id""",
    """INSERT INTO cv_submissions
    SELECT (SELECT max(id) FROM cv_submissions)
               + row_number() OVER (ORDER BY user_id, assignment_id),
        course_id, assignment_id, user_id, NULL, avg(score),
        least(due_at - INTERVAL 1 DAY, $as_of), least(due_at + INTERVAL 2 DAY, $as_of), due_at
    FROM guest_scores GROUP BY user_id, course_id, assignment_id, due_at""",
    """INSERT INTO cv_outcome_results
    SELECT (SELECT max(id) FROM cv_outcome_results)
               + row_number() OVER (ORDER BY s.id, g.n),
        g.course_id, g.user_id, g.outcome_id, g.assignment_id, s.id, g.score, NULL, g.n
    FROM guest_scores g
    JOIN cv_submissions s ON s.user_id = g.user_id AND s.assignment_id = g.assignment_id""",
    "DROP TABLE guest_scores",
)


# Hrefs and html_urls are stored against this origin and swapped for the one a client used.
PLACEHOLDER_ORIGIN = "http://sample-lms.invalid"


@dataclass(frozen=True)
class Rendering:
    """How one table's rows render as JSON, kept in a column so that serving a page is a plain
    scan (planning the JSON expression costs more than the page itself)."""

    table: str
    alias: str  # the table's alias in `expression`
    column: str
    expression: str  # SQL; may name `$or`, `$canvas` and the start-up parameters
    joins: str = ""  # further FROM items the expression reads
    on: str = "TRUE"  # how they join


@dataclass(frozen=True)
class DistrictFacts:
    """What the sample LMS serves, counted once at start-up."""

    district_id: str
    district_name: str
    timezone: str
    as_of: datetime
    roster_at: datetime
    counts: dict[str, int]


class LmsData:
    """A district's records in an in-memory DuckDB database, with one cursor per thread."""

    def __init__(self, district_dir: Path, as_of: datetime | None = None) -> None:
        district_dir = Path(district_dir)
        oneroster = district_dir / "sis" / "oneroster"
        if not oneroster.is_dir() and (district_dir / "users.csv").is_file():
            oneroster = district_dir
        if not (oneroster / "users.csv").is_file():
            raise FileNotFoundError(f"no OneRoster export under {district_dir}")
        self._con = duckdb.connect()
        self._con.execute("SET enable_progress_bar = false")
        self._lock = threading.Lock()
        self._local = threading.local()
        self._renderings: list[Rendering] = []
        self._render_params: dict[str, Any] = {}
        self.facts = self._build(district_dir, oneroster, as_of)

    def render(self, renderings: Sequence[Rendering], params: dict[str, Any]) -> None:
        """Render every row's JSON once; mutations re-render the rows they change."""
        self._renderings = list(renderings)
        self._render_params = {
            "or": f"{PLACEHOLDER_ORIGIN}/ims/oneroster/",
            "canvas": PLACEHOLDER_ORIGIN,
            **params,
        }
        for rendering in self._renderings:
            self._con.execute(
                f"ALTER TABLE {rendering.table} ADD COLUMN IF NOT EXISTS {rendering.column} VARCHAR"
            )
        for table in dict.fromkeys(r.table for r in self._renderings):
            self._render_rows(table, "TRUE")

    def _render_rows(self, table: str, where: str) -> None:
        """Re-render the rows of `table` matching `where` (`{a}` stands for its alias)."""
        for r in self._renderings:
            if r.table != table:
                continue
            sql = (
                f"UPDATE {r.table} {r.alias} SET {r.column} = {r.expression}"
                + (f" FROM {r.joins}" if r.joins else "")
                + f" WHERE ({r.on}) AND ({where.format(a=r.alias)})"
            )
            names = set(_PARAMETER.findall(sql))
            self._con.execute(sql, {k: v for k, v in self._render_params.items() if k in names})

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the shared database."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            with self._lock:
                cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    def rows(self, sql: str, params: dict[str, Any] | Sequence[Any] | None = None) -> list[tuple]:
        """Run one query on this thread's cursor and fetch every row (DuckDB 2.0 results
        stream and hold the cursor until fully fetched)."""
        if isinstance(params, dict):
            # Named parameters the statement does not use are an error to DuckDB: drop them.
            names = set(_PARAMETER.findall(sql))
            params = {k: v for k, v in params.items() if k in names}
        return self.cursor().execute(sql, params or {}).fetchall()

    def close(self) -> None:
        """Release the database."""
        self._con.close()

    def _build(self, district_dir: Path, oneroster: Path, as_of: datetime | None) -> DistrictFacts:
        con = self._con
        columns = {f: [c.name for c in cols] for f, cols in spec_columns(ONEROSTER_VERSION).items()}
        for file in _FILES:
            table = f"src_{file.removesuffix('.csv')}"
            path = oneroster / file
            if path.is_file():
                con.execute(
                    f"CREATE TABLE {table} AS SELECT * FROM read_csv(?, header = true, "
                    "all_varchar = true, delim = ',', quote = '\"', escape = '\"')",
                    [str(path)],
                )
            else:
                # An absent file is an empty one: the spec's columns, no rows.
                cols = ", ".join(f"{_quote(c)} VARCHAR" for c in columns[file])
                con.execute(f"CREATE TABLE {table} ({cols})")
        for statement in _MACROS:
            con.execute(statement)

        first_day, last_score = con.execute(
            "SELECT (SELECT min(try_cast(startDate AS DATE)) FROM src_academicSessions), "
            "(SELECT max(try_cast(scoreDate AS DATE)) FROM src_results)"
        ).fetchall()[0]
        today = datetime.combine(datetime.now(UTC).date(), time())
        if as_of is None:
            natural = (
                datetime.combine(last_score + timedelta(days=1), time()) if last_score else today
            )
            as_of = min(natural, today)
        as_of = as_of.astimezone(UTC).replace(tzinfo=None) if as_of.tzinfo else as_of
        start = first_day or date(as_of.year, 8, 1)
        roster_at = min(datetime.combine(start - timedelta(days=7), time(6)), as_of)

        config = _district_config(district_dir)
        district_id = config.get("id") or "district"
        competencies = sample_competencies()
        methods = [
            CALCULATION_METHODS.get(c.competency_set, DEFAULT_CALCULATION) for c in competencies
        ]
        params: dict[str, Any] = {
            "roster_at": roster_at,
            "as_of": as_of,
            "course_base": COURSE_ID_BASE,
            "user_base": USER_ID_BASE,
            "username_only": USERNAME_ONLY_SHARE,
            "district_name": config.get("name") or "District",
            "guest_domain": f"guests.{district_id}.example",
            "guest_courses": GUEST_COURSES,
            "points_possible": POINTS_POSSIBLE,
            "known_ids": [c.id for c in competencies],
            "known_sets": [c.competency_set for c in competencies],
            "known_codes": [c.code for c in competencies],
            "known_titles": [c.title for c in competencies],
            "known_set_titles": [COMPETENCY_SETS[c.competency_set] for c in competencies],
            "known_methods": [m for m, _ in methods],
            "known_ints": [i for _, i in methods],
            "default_method": DEFAULT_CALCULATION[0],
            "default_int": DEFAULT_CALCULATION[1],
            **{state: share for share, state in CANVAS_STUDENT_STATES},
        }
        params["guests"] = round(
            con.execute(
                "SELECT count(*) FROM src_roles WHERE role = 'student' AND roleType = 'primary'"
            ).fetchall()[0][0]
            * GUEST_SHARE
        )
        con.execute(_demographics_table(con), {"roster_at": roster_at})
        con.execute(f"CREATE MACRO outcome_ratings() AS {_ratings_literal()}")
        for statement in (*_ONEROSTER_TABLES, *_CANVAS_TABLES):
            names = set(_PARAMETER.findall(statement))
            con.execute(statement, {k: v for k, v in params.items() if k in names})
        for file in _FILES:
            con.execute(f"DROP TABLE src_{file.removesuffix('.csv')}")
        counts = {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            for (table,) in con.execute(
                "SELECT table_name FROM duckdb_tables() ORDER BY table_name"
            ).fetchall()
        }
        return DistrictFacts(
            district_id=district_id,
            district_name=params["district_name"],
            timezone=config.get("timezone") or "UTC",
            as_of=as_of,
            roster_at=roster_at,
            counts=counts,
        )

    def regrade(self, share: float, seed: int, now: datetime) -> int:
        """Re-score a deterministic share of SIS submissions, their outcome results and their
        OneRoster results, stamped `now`; returns how many submissions changed."""
        with self._lock:
            con = self._con
            con.execute("BEGIN")
            try:
                con.execute(
                    """CREATE TEMP TABLE regraded AS
                    SELECT id, result_sourced_id FROM cv_submissions
                    WHERE result_sourced_id IS NOT NULL
                    ORDER BY md5(result_sourced_id || '/regrade/' || $seed)
                    LIMIT (SELECT round(count(*) * $share)::BIGINT FROM cv_submissions
                           WHERE result_sourced_id IS NOT NULL)""",
                    {"seed": str(seed), "share": share},
                )
                # Scores are whole mastery levels 1-4: step each to a different level.
                con.execute(
                    """UPDATE cv_outcome_results SET score = 1 + (score - 1 + 1
                        + floor(draw(id || '/regrade/' || $seed) * 3)) % 4
                    WHERE submission_id IN (SELECT id FROM regraded)""",
                    {"seed": str(seed)},
                )
                con.execute(
                    """UPDATE cv_submissions s SET score = o.score, graded_at = $now
                    FROM (SELECT submission_id, avg(score) AS score FROM cv_outcome_results
                          WHERE submission_id IN (SELECT id FROM regraded) GROUP BY 1) o
                    WHERE s.id = o.submission_id""",
                    {"now": now},
                )
                con.execute(
                    """UPDATE or_results r SET score = s.score, dlm = $now, graded_at = $now,
                        scoreDate = strftime($now, '%Y-%m-%d'), objectives = o.objectives
                    FROM cv_submissions s, (
                        SELECT result_sourced_id, list(struct_pack(
                            learningObjectiveId := c.vendor_guid, score := x.score) ORDER BY x.n)
                            AS objectives
                        FROM cv_outcome_results x JOIN cv_outcomes c ON c.id = x.outcome_id
                        WHERE x.submission_id IN (SELECT id FROM regraded) GROUP BY 1) o
                    WHERE s.id IN (SELECT id FROM regraded)
                      AND r.sourcedId = s.result_sourced_id
                      AND o.result_sourced_id = s.result_sourced_id""",
                    {"now": now},
                )
                self._render_rows("cv_submissions", "{a}.id IN (SELECT id FROM regraded)")
                self._render_rows(
                    "cv_outcome_results", "{a}.submission_id IN (SELECT id FROM regraded)"
                )
                self._render_rows(
                    "or_results", "{a}.sourcedId IN (SELECT result_sourced_id FROM regraded)"
                )
                changed = con.execute("SELECT count(*) FROM regraded").fetchall()[0][0]
                con.execute("DROP TABLE regraded")
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        return changed

    def drop_enrollments(self, share: float, seed: int, now: datetime) -> int:
        """Withdraw a deterministic share of the active SIS student enrollments: OneRoster marks
        them `tobedeleted`, Canvas `deleted`, both stamped `now`; returns how many."""
        with self._lock:
            con = self._con
            con.execute("BEGIN")
            try:
                con.execute(
                    """CREATE TEMP TABLE dropped AS
                    SELECT sourcedId FROM or_enrollments
                    WHERE status = 'active' AND role = 'student'
                    ORDER BY md5(sourcedId || '/drop/' || $seed)
                    LIMIT (SELECT round(count(*) * $share)::BIGINT FROM or_enrollments
                           WHERE status = 'active' AND role = 'student')""",
                    {"seed": str(seed), "share": share},
                )
                con.execute(
                    """UPDATE or_enrollments SET status = 'tobedeleted', dlm = $now
                    WHERE sourcedId IN (SELECT sourcedId FROM dropped)""",
                    {"now": now},
                )
                con.execute(
                    """UPDATE cv_enrollments SET enrollment_state = 'deleted', updated_at = $now
                    WHERE sis_enrollment_id IN (SELECT sourcedId FROM dropped)""",
                    {"now": now},
                )
                self._render_rows("or_enrollments", "{a}.sourcedId IN (SELECT * FROM dropped)")
                self._render_rows(
                    "cv_enrollments", "{a}.sis_enrollment_id IN (SELECT * FROM dropped)"
                )
                changed = con.execute("SELECT count(*) FROM dropped").fetchall()[0][0]
                con.execute("DROP TABLE dropped")
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
        return changed


def _district_config(district_dir: Path) -> dict[str, Any]:
    """The `district:` block of the folder's pathways.yaml, if it has one."""
    path = district_dir / "pathways.yaml"
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    district = loaded.get("district") if isinstance(loaded, dict) else None
    return district if isinstance(district, dict) else {}


_RACE_FLAGS = (
    "americanIndianOrAlaskaNative",
    "asian",
    "blackOrAfricanAmerican",
    "nativeHawaiianOrOtherPacificIslander",
    "white",
    "demographicRaceTwoOrMoreRaces",
    "hispanicOrLatinoEthnicity",
)


def _demographics_table(con: duckdb.DuckDBPyConnection) -> str:
    """The demographics table; the export's `metadata.*` extension columns become its
    `metadata` object, as the JSON binding carries them."""
    names = [row[0] for row in con.execute("DESCRIBE src_demographics").fetchall()]
    extensions = [n for n in names if n.startswith("metadata.")]
    metadata = (
        "struct_pack("
        + ", ".join(f"{_quote(n.removeprefix('metadata.'))} := {_quote(n)}" for n in extensions)
        + ")"
        if extensions
        else "NULL"
    )
    flags = ", ".join(f"or_bool({f}) AS {f}" for f in _RACE_FLAGS)
    return f"""CREATE TABLE or_demographics AS
    SELECT row_number() OVER (ORDER BY sourcedId) AS rn, sourcedId, or_status(status) AS status,
        or_time(dateLastModified, $roster_at) AS dlm, birthDate, sex, {flags},
        countryOfBirthCode, stateOfBirthAbbreviation, cityOfBirth, publicSchoolResidenceStatus,
        {metadata} AS metadata
    FROM src_demographics ORDER BY sourcedId"""


def _ratings_literal() -> str:
    """Canvas's proficiency ratings as a SQL list literal (constants of this module)."""
    items = ", ".join(f"struct_pack(description := '{d}', points := {p})" for d, p in RATINGS)
    return f"[{items}]"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
