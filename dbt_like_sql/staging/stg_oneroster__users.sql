-- The people in the district's SIS (students, teachers, guardians, staff): one row per live
-- user, OneRoster 1.1 and 1.2 alike. Holds names, emails, usernames and phones, so it stays in
-- staging; core models carry only the sourcedId. The password column is not carried into the
-- warehouse.
--
-- One row per live record; tombstoned rows of a delta load are gone. Columns are the spec's,
-- renamed to snake_case and typed (lists as VARCHAR[], booleans, dates); `metadata` keeps the
-- file's extension columns as JSON and the `_` columns say which file, line and load each row
-- came from.
--
-- sourced_id: the SIS sourcedId, the master key of a person across Pathways
-- enabled_user: false when the account is disabled (the person is still in the SIS)
-- grades: grade levels; the spec types this a String but SISs send a comma list
-- primary_org_sourced_id: 1.2 primaryOrgSourcedId, else the first org of the 1.1 orgSourcedIds
-- org_sourced_ids: the 1.1 orgSourcedIds list; NULL in a 1.2 export (see staging roles)
-- role_1p1: the 1.1 users.role; NULL in a 1.2 export (see staging roles)

SELECT
    "sourcedId" AS sourced_id,
    CAST("dateLastModified" AS TIMESTAMPTZ) AS date_last_modified,
    CAST("enabledUser" AS BOOLEAN) AS enabled_user,
    "username",
    [trim(x) FOR x IN string_split("userIds", ',') IF trim(x) <> ''] AS user_ids,
    "givenName" AS given_name,
    "familyName" AS family_name,
    "middleName" AS middle_name,
    "identifier",
    "email",
    "sms",
    "phone",
    [trim(x) FOR x IN string_split("agentSourcedIds", ',') IF trim(x) <> ''] AS agent_sourced_ids,
    [trim(x) FOR x IN string_split("grades", ',') IF trim(x) <> ''] AS grades,
    "userMasterIdentifier" AS user_master_identifier,
    "preferredGivenName" AS preferred_given_name,
    "preferredMiddleName" AS preferred_middle_name,
    "preferredFamilyName" AS preferred_family_name,
    -- 1.1 has no primary org; the first of its orgSourcedIds stands in for it.
    coalesce(
        "primaryOrgSourcedId", nullif(trim(split_part("orgSourcedIds", ',', 1)), '')
    ) AS primary_org_sourced_id,
    "pronouns",
    [trim(x) FOR x IN string_split("orgSourcedIds", ',') IF trim(x) <> ''] AS org_sourced_ids,
    "role" AS role_1p1,
    metadata,
    _source,
    _file,
    _line,
    _batch_id,
    _loaded_at,
    _oneroster_version
FROM raw.oneroster_users
-- Live rows only: a delta load marks a deleted record `tobedeleted`; bulk rows have no status.
WHERE coalesce("status", 'active') = 'active'
