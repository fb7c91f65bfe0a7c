-- Demographics of each user as the district's OneRoster 1.2 REST service sends them: one row per
-- live user that has them (the row's sourcedId is the user's), with birth date, sex, race and
-- ethnicity flags, and the district's extension flags (economic disadvantage, English learner,
-- disability, home internet, device). Personal data: it stays in staging.
--
-- Read from raw.oneroster_rest_demographics, where each record is kept as JSON exactly as received.
-- Columns are named as in the CSV staging (stg_oneroster__demographics) so the two can be unioned
-- by name. One row per live record: a record the service marked `tobedeleted` stays in raw, with
-- its status, but is left out here, as the CSV staging leaves out tombstoned rows. A value that
-- does not parse as its type becomes NULL here; raw keeps it as sent.
--
-- sourced_id: the sourcedId of the user these demographics describe
-- date_last_modified: when the service last changed the record
-- birth_date: the user's date of birth
-- sex: male, female, unspecified, other or an ext: value
-- american_indian_or_alaska_native: the spec's americanIndianOrAlaskaNative flag
-- asian: the spec's asian flag
-- black_or_african_american: the spec's blackOrAfricanAmerican flag
-- native_hawaiian_or_other_pacific_islander: the spec's nativeHawaiianOrOtherPacificIslander flag
-- white: the spec's white flag
-- demographic_race_two_or_more_races: the spec's demographicRaceTwoOrMoreRaces flag
-- hispanic_or_latino_ethnicity: the spec's hispanicOrLatinoEthnicity flag
-- country_of_birth_code: the country of birth (code)
-- state_of_birth_abbreviation: the state of birth
-- city_of_birth: the city of birth
-- public_school_residence_status: the user's residence status for public school
-- is_economically_disadvantaged: from metadata.economicallyDisadvantaged; NULL when not reported
-- is_english_learner: from metadata.englishLearner; NULL when not reported
-- has_disability: from metadata.disability; NULL when not reported
-- has_home_internet: from metadata.homeInternetAccess; NULL when not reported
-- has_device: from metadata.deviceAccess; NULL when not reported
-- metadata: the record's extension fields (`metadata`) as JSON
-- _source: the source's name in pathways.yaml
-- _batch_id: the sync that last changed the row
-- _loaded_at: when the row last changed
-- _oneroster_version: the OneRoster version of the service (always 1.2: the v1p2 endpoints)

SELECT
    _record ->> '$.sourcedId' AS sourced_id,
    TRY_CAST(_record ->> '$.dateLastModified' AS TIMESTAMPTZ) AS date_last_modified,
    TRY_CAST(_record ->> '$.birthDate' AS DATE) AS birth_date,
    _record ->> '$.sex' AS sex,
    TRY_CAST(_record ->> '$.americanIndianOrAlaskaNative' AS BOOLEAN)
        AS american_indian_or_alaska_native,
    TRY_CAST(_record ->> '$.asian' AS BOOLEAN) AS asian,
    TRY_CAST(_record ->> '$.blackOrAfricanAmerican' AS BOOLEAN) AS black_or_african_american,
    TRY_CAST(_record ->> '$.nativeHawaiianOrOtherPacificIslander' AS BOOLEAN)
        AS native_hawaiian_or_other_pacific_islander,
    TRY_CAST(_record ->> '$.white' AS BOOLEAN) AS white,
    TRY_CAST(_record ->> '$.demographicRaceTwoOrMoreRaces' AS BOOLEAN)
        AS demographic_race_two_or_more_races,
    TRY_CAST(_record ->> '$.hispanicOrLatinoEthnicity' AS BOOLEAN) AS hispanic_or_latino_ethnicity,
    _record ->> '$.countryOfBirthCode' AS country_of_birth_code,
    _record ->> '$.stateOfBirthAbbreviation' AS state_of_birth_abbreviation,
    _record ->> '$.cityOfBirth' AS city_of_birth,
    _record ->> '$.publicSchoolResidenceStatus' AS public_school_residence_status,
    -- Extension flags are not validated by the spec: TRY_CAST reads true/false (string or boolean)
    -- and leaves anything else NULL (unknown).
    TRY_CAST(_record ->> '$.metadata.economicallyDisadvantaged' AS BOOLEAN)
        AS is_economically_disadvantaged,
    TRY_CAST(_record ->> '$.metadata.englishLearner' AS BOOLEAN) AS is_english_learner,
    TRY_CAST(_record ->> '$.metadata.disability' AS BOOLEAN) AS has_disability,
    TRY_CAST(_record ->> '$.metadata.homeInternetAccess' AS BOOLEAN) AS has_home_internet,
    TRY_CAST(_record ->> '$.metadata.deviceAccess' AS BOOLEAN) AS has_device,
    _record -> '$.metadata' AS metadata,
    _source,
    _batch_id,
    _loaded_at,
    '1.2' AS _oneroster_version
FROM raw.oneroster_rest_demographics
-- Live rows only: the service marks a deleted record `tobedeleted` (raw keeps it).
WHERE coalesce(_record ->> '$.status', 'active') = 'active'
