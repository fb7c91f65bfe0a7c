-- Demographics of each user as the SIS sends them: one row per user (the row's sourcedId is the
-- user's), with birth date, sex, race and ethnicity flags, and the district's extension flags
-- (economic disadvantage, English learner, disability, home internet, device). Personal data: it
-- stays in staging; core.learners carries the flags, never the birth date.
--
-- One row per live record; tombstoned rows of a delta load are gone. Columns are the spec's,
-- renamed to snake_case and typed (lists as VARCHAR[], booleans, dates); `metadata` keeps the
-- file's extension columns as JSON and the `_` columns say which file, line and load each row
-- came from.
--
-- sourced_id: the sourcedId of the user these demographics describe
-- is_economically_disadvantaged: from metadata.economicallyDisadvantaged; NULL when not reported
-- is_english_learner: from metadata.englishLearner; NULL when not reported
-- has_disability: from metadata.disability; NULL when not reported
-- has_home_internet: from metadata.homeInternetAccess; NULL when not reported
-- has_device: from metadata.deviceAccess; NULL when not reported

SELECT
    "sourcedId" AS sourced_id,
    CAST("dateLastModified" AS TIMESTAMPTZ) AS date_last_modified,
    CAST("birthDate" AS DATE) AS birth_date,
    "sex",
    CAST("americanIndianOrAlaskaNative" AS BOOLEAN) AS american_indian_or_alaska_native,
    CAST("asian" AS BOOLEAN) AS asian,
    CAST("blackOrAfricanAmerican" AS BOOLEAN) AS black_or_african_american,
    CAST("nativeHawaiianOrOtherPacificIslander" AS BOOLEAN)
        AS native_hawaiian_or_other_pacific_islander,
    CAST("white" AS BOOLEAN) AS white,
    CAST("demographicRaceTwoOrMoreRaces" AS BOOLEAN) AS demographic_race_two_or_more_races,
    CAST("hispanicOrLatinoEthnicity" AS BOOLEAN) AS hispanic_or_latino_ethnicity,
    "countryOfBirthCode" AS country_of_birth_code,
    "stateOfBirthAbbreviation" AS state_of_birth_abbreviation,
    "cityOfBirth" AS city_of_birth,
    "publicSchoolResidenceStatus" AS public_school_residence_status,
    -- Extension flags are not validated by the spec: TRY_CAST reads 'true'/'false'/'yes'/'1'
    -- and leaves anything else NULL (unknown) rather than failing the night.
    TRY_CAST(metadata ->> '$.economicallyDisadvantaged' AS BOOLEAN)
        AS is_economically_disadvantaged,
    TRY_CAST(metadata ->> '$.englishLearner' AS BOOLEAN) AS is_english_learner,
    TRY_CAST(metadata ->> '$.disability' AS BOOLEAN) AS has_disability,
    TRY_CAST(metadata ->> '$.homeInternetAccess' AS BOOLEAN) AS has_home_internet,
    TRY_CAST(metadata ->> '$.deviceAccess' AS BOOLEAN) AS has_device,
    metadata,
    _source,
    _file,
    _line,
    _batch_id,
    _loaded_at,
    _oneroster_version
FROM raw.oneroster_demographics
-- Live rows only: a delta load marks a deleted record `tobedeleted`; bulk rows have no status.
WHERE coalesce("status", 'active') = 'active'
