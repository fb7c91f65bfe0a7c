-- The people in the district's OneRoster 1.2 REST service (students, teachers, guardians, staff):
-- one row per live user. Holds names, emails, usernames and phones, so it stays in staging; core
-- models carry only the sourcedId. A password, should a service send one, is not carried here. The
-- roles each user holds are in stg_oneroster_rest__roles.
--
-- Read from raw.oneroster_rest_users, where each record is kept as JSON exactly as received.
-- Columns are named as in the CSV staging (stg_oneroster__users) so the two can be unioned by name.
-- One row per live record: a record the service marked `tobedeleted` stays in raw, with its status,
-- but is left out here, as the CSV staging leaves out tombstoned rows. A value that does not parse
-- as its type becomes NULL here; raw keeps it as sent.
--
-- sourced_id: the SIS sourcedId, the master key of a person across Pathways
-- date_last_modified: when the service last changed the record
-- enabled_user: false when the account is disabled (the person is still in the SIS)
-- username: the user's login name
-- user_ids: the user's ids in other systems, as {type:identifier} items, as in the CSV binding
-- given_name: the user's given (first) name
-- family_name: the user's family (last) name
-- middle_name: the user's middle name(s)
-- identifier: the district's identifier for the user (e.g. student number)
-- email: the user's email address
-- sms: the user's SMS number
-- phone: the user's phone number
-- agent_sourced_ids: the sourcedIds of the user's agents (e.g. a student's guardians)
-- grades: the grade levels of the user
-- user_master_identifier: the user's identifier across the district's systems
-- preferred_given_name: the REST binding's preferredFirstName
-- preferred_middle_name: the REST binding's preferredMiddleName
-- preferred_family_name: the REST binding's preferredLastName
-- primary_org_sourced_id: the sourcedId of the user's primary org
-- pronouns: the user's pronouns
-- metadata: the record's extension fields (`metadata`) as JSON
-- _source: the source's name in pathways.yaml
-- _batch_id: the sync that last changed the row
-- _loaded_at: when the row last changed
-- _oneroster_version: the OneRoster version of the service (always 1.2: the v1p2 endpoints)

SELECT
    _record ->> '$.sourcedId' AS sourced_id,
    TRY_CAST(_record ->> '$.dateLastModified' AS TIMESTAMPTZ) AS date_last_modified,
    TRY_CAST(_record ->> '$.enabledUser' AS BOOLEAN) AS enabled_user,
    _record ->> '$.username' AS username,
    [
        '{' || (id ->> '$.type') || ':' || (id ->> '$.identifier') || '}'
        FOR id IN coalesce(TRY_CAST(_record -> '$.userIds' AS JSON []), [])
    ]
        AS user_ids,
    _record ->> '$.givenName' AS given_name,
    _record ->> '$.familyName' AS family_name,
    _record ->> '$.middleName' AS middle_name,
    _record ->> '$.identifier' AS identifier,
    _record ->> '$.email' AS email,
    _record ->> '$.sms' AS sms,
    _record ->> '$.phone' AS phone,
    json_extract_string(_record, '$.agents[*].sourcedId') AS agent_sourced_ids,
    json_extract_string(_record, '$.grades[*]') AS grades,
    _record ->> '$.userMasterIdentifier' AS user_master_identifier,
    -- The REST binding says First/Last where the CSV binding says Given/Family.
    _record ->> '$.preferredFirstName' AS preferred_given_name,
    _record ->> '$.preferredMiddleName' AS preferred_middle_name,
    _record ->> '$.preferredLastName' AS preferred_family_name,
    _record ->> '$.primaryOrg.sourcedId' AS primary_org_sourced_id,
    _record ->> '$.pronouns' AS pronouns,
    _record -> '$.metadata' AS metadata,
    _source,
    _batch_id,
    _loaded_at,
    '1.2' AS _oneroster_version
FROM raw.oneroster_rest_users
-- Live rows only: the service marks a deleted record `tobedeleted` (raw keeps it).
WHERE coalesce(_record ->> '$.status', 'active') = 'active'
