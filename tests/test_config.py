"""`pathways.yaml`: valid files load; wrong keys and values stop with a message naming the line."""

from pathlib import Path

import pytest

from models.config import ConfigError, load_config

VALID = """\
district: {id: sample-district, name: Sample District, timezone: America/Chicago}
warehouse: {path: data/warehouse.duckdb, published_path: data/published/warehouse.duckdb}
schedule: {cron: "0 2 * * *"}
sources:
  sis: {kind: oneroster_csv, path: data/sis/oneroster}
privacy: {min_group_size: 10}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pathways.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_documented_example_loads_with_paths_relative_to_the_file(tmp_path):
    config = load_config(write(tmp_path, VALID))
    assert config.district.timezone == "America/Chicago"
    assert config.warehouse.path == tmp_path / "data/warehouse.duckdb"
    assert config.sources.sis.path == tmp_path / "data/sis/oneroster"
    assert config.sources.sis.max_deletion_share == 0.2
    assert config.privacy.min_group_size == 10


def test_a_misspelt_key_names_its_line_and_suggests_the_right_one(tmp_path):
    text = VALID.replace("privacy: {min_group_size: 10}", "privacy: {min_grup_size: 10}")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    message = str(err.value)
    assert "line 6" in message
    assert "privacy.min_grup_size" in message
    assert "did you mean 'min_group_size'" in message


def test_an_unknown_source_kind_lists_the_supported_ones(tmp_path):
    text = VALID.replace("kind: oneroster_csv", "kind: onerostr_csv")
    with pytest.raises(ConfigError, match=r"line 5, sources\.sis.*unknown kind 'onerostr_csv'"):
        load_config(write(tmp_path, text))


def test_an_unknown_time_zone_is_rejected_with_an_example(tmp_path):
    text = VALID.replace("America/Chicago", "America/Chicgo")
    with pytest.raises(ConfigError, match=r"line 1, district\.timezone: unknown time zone"):
        load_config(write(tmp_path, text))


def test_a_cron_expression_must_have_five_fields(tmp_path):
    text = VALID.replace('"0 2 * * *"', '"0 2 * *"')
    with pytest.raises(ConfigError, match=r"schedule\.cron: '0 2 \* \*' is not a five-field cron"):
        load_config(write(tmp_path, text))


def test_a_missing_required_section_is_named(tmp_path):
    text = "\n".join(line for line in VALID.splitlines() if not line.startswith("warehouse"))
    with pytest.raises(ConfigError, match=r"warehouse: required key is missing"):
        load_config(write(tmp_path, text))


def test_a_deletion_share_above_one_is_rejected(tmp_path):
    text = VALID.replace("path: data/sis/oneroster}", "path: x, max_deletion_share: 1.5}")
    with pytest.raises(ConfigError, match=r"max_deletion_share"):
        load_config(write(tmp_path, text))


def test_a_missing_file_says_how_to_fix_it(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


def test_the_repository_default_config_is_valid():
    config = load_config(Path(__file__).resolve().parents[1] / "pathways.yaml")
    assert config.district.id == "sample-district"


LMS = """\
  lms:
    - {kind: canvas, base_url: "https://canvas.example.edu", account_id: 1, token_env: CANVAS_TOKEN}
    - kind: oneroster_rest
      base_url: https://sis.example.edu/ims/oneroster
      token_url: https://sis.example.edu/oauth/token
      client_id_env: ONEROSTER_CLIENT_ID
      client_secret_env: ONEROSTER_CLIENT_SECRET
"""


def with_lms(lms: str) -> str:
    return VALID.replace("privacy:", lms + "privacy:")


def test_lms_sources_may_be_a_list_of_canvas_and_oneroster_rest(tmp_path):
    config = load_config(write(tmp_path, with_lms(LMS)))
    canvas, oneroster = config.sources.lms
    assert (canvas.kind, canvas.name, canvas.token_env) == ("canvas", "canvas", "CANVAS_TOKEN")
    assert (oneroster.kind, oneroster.name) == ("oneroster_rest", "oneroster_rest")
    assert oneroster.client_secret_env == "ONEROSTER_CLIENT_SECRET"


def test_a_single_lms_mapping_is_one_source(tmp_path):
    text = VALID.replace(
        "privacy:",
        '  lms: {kind: canvas, base_url: "https://c.example.edu", token_env: CANVAS_TOKEN}\n'
        "privacy:",
    )
    (canvas,) = load_config(write(tmp_path, text)).sources.lms
    assert canvas.account_id == 1


def test_no_lms_is_an_empty_tuple(tmp_path):
    assert load_config(write(tmp_path, VALID)).sources.lms == ()


def test_a_misspelt_key_in_a_listed_lms_names_its_line_entry_and_suggests(tmp_path):
    text = with_lms(LMS).replace("client_secret_env:", "client_secret_evn:")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    message = str(err.value)
    assert "line 12, sources.lms[1].client_secret_evn: unknown key" in message
    assert "did you mean 'client_secret_env'" in message


def test_an_unknown_lms_kind_lists_the_supported_ones(tmp_path):
    text = with_lms(LMS).replace("kind: canvas", "kind: moodle")
    with pytest.raises(ConfigError, match=r"line 7, sources\.lms\[0\]: unknown kind 'moodle'"):
        load_config(write(tmp_path, text))
    with pytest.raises(ConfigError, match="supported: canvas, oneroster_rest"):
        load_config(write(tmp_path, text))


def test_a_token_written_where_its_variable_belongs_is_refused_without_echoing_it(tmp_path):
    text = with_lms(LMS).replace("token_env: CANVAS_TOKEN", "token_env: 'abc 123~secret'")
    with pytest.raises(ConfigError, match=r"line 7, sources\.lms\[0\]\.token_env") as err:
        load_config(write(tmp_path, text))
    assert "abc 123~secret" not in str(err.value)


def test_two_lms_sources_with_one_name_are_refused(tmp_path):
    text = with_lms(LMS).replace("kind: oneroster_rest", "kind: oneroster_rest\n      name: canvas")
    with pytest.raises(ConfigError, match="two LMS sources are named 'canvas'"):
        load_config(write(tmp_path, text))


SQL = """\
district: {id: riverside, name: Riverside USD}
warehouse: {path: w/warehouse.duckdb, published_path: p/warehouse.duckdb}
sources:
  sis:
    kind: sql
    url_env: SIS_DATABASE_URL
    schema: sis
    entities:
      orgs:
        table: schools
        columns: {sourcedId: school_id, name: school_name, type: {const: school}}
      users:
        query: "SELECT * FROM students WHERE grade_level <> :skipped"
        params: {skipped: PK}
        columns:
          sourcedId: student_id
          status: {const: active}
          enabledUser: {const: true}
          username: login
          givenName: first_name
          familyName: last_name
        metadata: {englishLearner: ell}
        modified_column: last_modified
"""


def test_a_sql_sis_maps_entities_to_tables_or_queries_with_constants(tmp_path):
    sis = load_config(write(tmp_path, SQL)).sources.sis
    assert (sis.kind, sis.url_env, sis.db_schema, sis.batch_size) == (
        "sql",
        "SIS_DATABASE_URL",
        "sis",
        50_000,
    )
    entities = sis.entity_map()
    assert list(entities) == ["orgs", "users"]
    assert (
        entities["orgs"].table == "schools" and entities["orgs"].columns["type"].const == "school"
    )
    users = entities["users"]
    assert users.params == {"skipped": "PK"}
    assert users.columns["enabledUser"].const == "true"  # a YAML boolean, as OneRoster writes it
    assert users.metadata == {"englishLearner": "ell"}
    # An incremental entity's modified column also fills dateLastModified.
    assert users.column_map["dateLastModified"] == "last_modified"


def test_an_unknown_sql_entity_names_its_line_and_suggests_the_oneroster_one(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, SQL.replace("      users:", "      user:")))
    assert "line 12, sources.sis.entities.user: unknown key; did you mean 'users'?" in str(
        err.value
    )


def test_an_unknown_oneroster_column_in_a_map_suggests_the_right_one(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, SQL.replace("givenName:", "givenNam:")))
    message = str(err.value)
    assert "line 15, sources.sis.entities.users.columns:" in message
    assert "'givenNam' is not a OneRoster 1.2 users column; did you mean 'givenName'?" in message


def test_a_map_without_a_required_column_names_it(tmp_path):
    with pytest.raises(ConfigError, match=r"required OneRoster column\(s\) not mapped: username"):
        load_config(write(tmp_path, SQL.replace("          username: login\n", "")))


def test_an_entity_takes_a_table_or_a_query_not_both(tmp_path):
    text = SQL.replace("        table: schools\n", "        table: schools\n        query: x\n")
    with pytest.raises(ConfigError, match=r"line 9, sources\.sis\.entities\.orgs: give exactly"):
        load_config(write(tmp_path, text))


def test_an_incremental_entity_must_say_how_a_deletion_looks(tmp_path):
    with pytest.raises(ConfigError, match="needs `status` mapped"):
        load_config(write(tmp_path, SQL.replace("          status: {const: active}\n", "")))


def test_a_password_column_cannot_be_mapped(tmp_path):
    text = SQL.replace(
        "          username: login\n", "          username: login\n          password: pw\n"
    )
    with pytest.raises(ConfigError, match="never stores passwords"):
        load_config(write(tmp_path, text))


def test_a_database_url_written_where_its_variable_belongs_is_refused_without_echoing_it(
    tmp_path,
):
    text = SQL.replace("url_env: SIS_DATABASE_URL", 'url_env: "postgresql://u:hunter2@h/sis"')
    with pytest.raises(ConfigError, match=r"line 6, sources\.sis\.url_env") as err:
        load_config(write(tmp_path, text))
    assert "hunter2" not in str(err.value)


def test_a_misspelt_sql_source_key_suggests_the_name_written_in_yaml(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'schema'"):
        load_config(write(tmp_path, SQL.replace("    schema: sis", "    shema: sis")))


CREDENTIALS = """\
  credentials:
    - kind: ob3_api
      base_url: https://badges.example.edu
      token_url: https://badges.example.edu/oauth/token
      client_id_env: OB3_CLIENT_ID
      client_secret_env: OB3_CLIENT_SECRET
    - kind: badgr
      base_url: https://api.badgr.io
      token_env: BADGR_TOKEN
      issuer_ids: [cTjNfNr1RX2Yc3xs7HHzkA, 9Qf2d0bXT5-kW1pGv3mR7g]
    - {kind: credly, organization_id: 7c7a3b2e-0000-4000-8000-000000000001, token_env: CREDLY_TOKEN}
    - {kind: badge_files, path: data/badges}
"""


def with_credentials(credentials: str, extra: str = "") -> str:
    return VALID.replace("privacy:", credentials + extra + "privacy:")


def test_credential_sources_of_every_kind_load_with_their_defaults(tmp_path):
    text = with_credentials(CREDENTIALS) + "verification: {trust_dir: data/trust}\n"
    config = load_config(write(tmp_path, text))
    ob3, badgr, credly, files = config.sources.credentials
    assert (ob3.name, ob3.page_size, ob3.overlap_minutes) == ("ob3_api", 100, 60)
    assert ob3.scope == "https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.readonly"
    assert badgr.issuer_ids == ("cTjNfNr1RX2Yc3xs7HHzkA", "9Qf2d0bXT5-kW1pGv3mR7g")
    assert (credly.name, credly.base_url) == ("credly", "https://api.credly.com")
    # Folders resolve relative to the file, as the SIS path does.
    assert files.path == tmp_path / "data/badges"
    assert config.verification.trust_dir == tmp_path / "data/trust"
    assert [s.kind for s in config.sources.api_sources] == ["ob3_api", "badgr", "credly"]


def test_no_credentials_or_verification_is_empty(tmp_path):
    config = load_config(write(tmp_path, VALID))
    assert config.sources.credentials == ()
    assert config.verification.trust_dir is None


def test_a_single_credential_mapping_is_one_source(tmp_path):
    text = with_credentials("  credentials: {kind: badge_files, name: portfolios, path: b}\n")
    (files,) = load_config(write(tmp_path, text)).sources.credentials
    assert (files.name, files.path) == ("portfolios", tmp_path / "b")


def test_an_error_inside_a_listed_credential_source_names_its_line_and_index(tmp_path):
    text = with_credentials(CREDENTIALS).replace(
        "token_url: https://badges.example.edu/oauth/token", "token_url: badges.example.edu/token"
    )
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    message = str(err.value)
    assert "line 9, sources.credentials[0].token_url: must be an http:// or https:// URL" in message


def test_a_misspelt_key_in_a_credential_source_suggests_the_right_one(tmp_path):
    text = with_credentials(CREDENTIALS).replace("issuer_ids:", "issuer_id:")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    message = str(err.value)
    assert "line 15, sources.credentials[1].issuer_id: unknown key" in message
    assert "did you mean 'issuer_ids'" in message
    assert "sources.credentials[1].issuer_ids: required key is missing" in message


def test_a_badgr_source_needs_at_least_one_issuer(tmp_path):
    text = with_credentials(CREDENTIALS).replace(
        "[cTjNfNr1RX2Yc3xs7HHzkA, 9Qf2d0bXT5-kW1pGv3mR7g]", "[]"
    )
    with pytest.raises(ConfigError, match=r"sources\.credentials\[1\]\.issuer_ids: .*at least 1"):
        load_config(write(tmp_path, text))


def test_an_issuer_id_that_is_a_url_is_refused_with_what_to_write(tmp_path):
    text = with_credentials(CREDENTIALS).replace(
        "9Qf2d0bXT5-kW1pGv3mR7g]", "https://badgr.com/issuers/9Qf2d0bXT5-kW1pGv3mR7g]"
    )
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert "sources.credentials[1].issuer_ids[1]: an id as it appears" in str(err.value)


def test_an_unknown_credential_kind_lists_the_supported_ones(tmp_path):
    text = with_credentials(CREDENTIALS).replace("kind: credly", "kind: acclaim")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    message = str(err.value)
    assert "line 16, sources.credentials[2]: unknown kind 'acclaim'" in message
    assert "supported: ob3_api, badgr, credly, badge_files" in message


def test_a_secret_written_where_its_variable_belongs_is_refused_without_echoing_it(tmp_path):
    text = with_credentials(CREDENTIALS).replace("CREDLY_TOKEN}", "'9f8e7d6c-secret token'}")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    message = str(err.value)
    assert "sources.credentials[2].token_env: write the NAME of the environment variable" in message
    assert "9f8e7d6c" not in message


def test_two_credential_sources_with_one_name_are_refused(tmp_path):
    text = with_credentials(CREDENTIALS).replace(
        "{kind: badge_files, path: data/badges}", "{kind: badge_files, name: badgr, path: b}"
    )
    with pytest.raises(ConfigError, match="two credential sources are named 'badgr'"):
        load_config(write(tmp_path, text))


def test_an_lms_and_a_credential_source_with_one_name_are_refused(tmp_path):
    text = with_credentials(CREDENTIALS.replace("kind: badgr", "kind: badgr\n      name: canvas"))
    text = text.replace("privacy:", LMS + "privacy:")
    with pytest.raises(ConfigError, match="an LMS source and a credential source are both named"):
        load_config(write(tmp_path, text))


def test_a_page_size_above_the_platforms_maximum_is_refused(tmp_path):
    text = with_credentials(CREDENTIALS).replace(
        "token_env: BADGR_TOKEN", "token_env: BADGR_TOKEN\n      page_size: 501"
    )
    with pytest.raises(ConfigError, match=r"sources\.credentials\[1\]\.page_size: .*500"):
        load_config(write(tmp_path, text))


def test_a_misspelt_verification_key_suggests_trust_dir(tmp_path):
    text = VALID + "verification: {trust_folder: trust}\n"
    with pytest.raises(ConfigError, match=r"verification\.trust_folder: unknown key"):
        load_config(write(tmp_path, text))
