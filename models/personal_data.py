"""Which warehouse columns hold personal data, so nothing personal reaches logs or metadata.

Direct identifiers (names, emails, usernames, birth dates, phones, passwords) and sensitive
attributes of a single learner (sex, race/ethnicity, program flags) are never shown in a Dagster
preview, a log line or a rejected-row value. The OneRoster binding's own PII markings are the
starting point; the group flags Pathways derives are declared here beside them.
"""

from __future__ import annotations

from functools import cache

from models.oneroster_spec import personal_columns, snake_case

# Flags Pathways derives about one learner; aggregated, they are the equity lens; per row, they
# are sensitive personal data.
LEARNER_ATTRIBUTE_COLUMNS = frozenset(
    {
        "sex",
        "is_economically_disadvantaged",
        "is_english_learner",
        "has_disability",
        "is_american_indian_or_alaska_native",
        "is_asian",
        "is_black_or_african_american",
        "is_native_hawaiian_or_other_pacific_islander",
        "is_white",
        "is_two_or_more_races",
        "is_hispanic_or_latino",
        "has_home_internet",
        "has_device",
        "metadata",
    }
)

# Credentials a SIS may export (OneRoster users.password, userProfiles.password): Pathways has no
# use for them and never stores them; the raw column stays, always empty, so the layout matches
# the spec.
NEVER_STORED_COLUMNS = frozenset({"password"})

# Words that mark a column as a direct identifier whatever its source system calls it.
# A credential's recipient identity is an email address as often as not.
_IDENTIFIER_WORDS = (
    "name",
    "email",
    "birth",
    "phone",
    "sms",
    "password",
    "username",
    "address",
    "identity",
    "recipient",
)


@cache
def _spec_personal() -> frozenset[str]:
    names = personal_columns()
    return frozenset(names | {snake_case(n) for n in names})


def is_personal_column(column: str) -> bool:
    """True when a column may identify a learner or describe one sensitively."""
    lowered = column.lower()
    if column in _spec_personal() or lowered in LEARNER_ATTRIBUTE_COLUMNS:
        return True
    # Titles and school names are not personal; names of people are.
    if lowered in {"title", "school_name", "org_name", "course_title", "class_title"}:
        return False
    return any(word in lowered for word in _IDENTIFIER_WORDS) and not lowered.endswith(
        ("sourced_id", "sourcedid")
    )
