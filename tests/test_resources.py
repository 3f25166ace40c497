"""State made explicit: the port storage, the domain's warehouse and the masking key are Dagster
resources, shown in the UI (a secret only by the name of what holds it) and replaceable; loading a
code location changes nothing of its process's environment and writes nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml
from dagster import EnvVar

from platform_lib.assets.resources import MaskingResource, PortsResource
from platform_lib.mesh import load_mesh
from platform_lib.ports.catalog import PortCatalog
from tests.conftest import mesh_env
from tests.support.processes import REPO, graphql, webserver

SALES = sorted(port.asset_key for port in load_mesh().domain("sales").output_ports)

# A code location's load, as a code server does it, in a process of its own: the environment and
# every file under the homes, before and after.
LOAD = """
import json, os, sys
from pathlib import Path

def files():
    return sorted(str(p) for home in (os.environ["MESH_HOME"], os.environ["DAGSTER_HOME"]) for p in Path(home).rglob("*"))

before, created_before = dict(os.environ), files()
from platform_lib.runs.mesh_run import load_definitions
load_definitions(Path(sys.argv[1]))
print(json.dumps({"changed": {k: [before.get(k), os.environ.get(k)] for k in before.keys() | os.environ.keys() if before.get(k) != os.environ.get(k)},
                  "created": sorted(set(files()) - set(created_before))}))
"""


def test_loading_a_location_changes_no_environment_and_writes_no_file(tmp_path):
    home, dagster_home, credentials = tmp_path / "home", tmp_path / "dagster", tmp_path / "access"
    for folder in (home, dagster_home, credentials):
        folder.mkdir()
    # As `mesh run` on S3 gives it: every identity's keys in a folder, none in the environment.
    for domain in ("sales", "finance"):
        (credentials / f"{domain}.json").write_text(json.dumps({"access_key": f"{domain}-key", "secret_key": f"{domain}-secret"}))
    env = mesh_env(home) | {"DAGSTER_HOME": str(dagster_home), "MESH_S3_CREDENTIALS": str(credentials)}
    for domain in ("sales", "finance"):
        result = subprocess.run([sys.executable, "-c", LOAD, str(REPO / "domains" / domain)], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
        assert json.loads(result.stdout.splitlines()[-1]) == {"changed": {}, "created": []}, domain


# sales's definitions built with a ports resource of the test's own, and its job run in process.
RUN = """
import json, sys
from pathlib import Path
from dagster import DagsterInstance
from platform_lib.definitions import build_domain
from platform_lib.assets.resources import PortsResource, WarehouseResource

folder, catalog_uri, warehouse_uri, database = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
defs = build_domain(folder, resources={
    "ports": PortsResource(catalog_uri=catalog_uri, warehouse_uri=warehouse_uri),
    "warehouse": WarehouseResource(path=database, memory_limit="1GB", audit_memory_limit="256MB"),
})
with DagsterInstance.ephemeral() as instance:
    result = defs.resolve_job_def(f"{folder.name}_products").execute_in_process(instance=instance, raise_on_error=False)
print(json.dumps(result.success))
"""


def test_replaced_resources_take_the_domains_ports_and_database_where_they_point(seeded_env, tmp_path):
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    shutil.copytree(Path(seeded_env["MESH_HOME"]) / "sources", home / "sources")
    ports = PortsResource(catalog_uri=f"sqlite:///{elsewhere / 'catalog.db'}", warehouse_uri=f"file://{elsewhere / 'tables'}")
    database = elsewhere / "sales.duckdb"
    result = subprocess.run([sys.executable, "-c", RUN, str(REPO / "domains" / "sales"), ports.catalog_uri, ports.warehouse_uri, str(database)],
                            cwd=REPO, env=mesh_env(home), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and result.stdout.split()[-1] == "true", result.stderr[-5000:]
    catalog = PortCatalog(ports.storage())
    assert catalog.ports() == SALES
    for key in SALES:
        table = catalog.table(key)
        assert catalog.current(key).facts["row-count"] > 0
        assert all(path.startswith(f"file://{elsewhere}/tables/{key[0]}/{key[1]}/data/")
                   for path in catalog.data_files(table, table.current_snapshot().snapshot_id))
    # dbt built the models in the replaced database; the settings' port catalog, tables and
    # database, under MESH_HOME, were never touched.
    with duckdb.connect(str(database), read_only=True) as con:
        assert {"orders", "line_items", "pricing_summary"} <= {row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()}
    assert not (home / "ports").exists() and not (home / "warehouse" / "sales.duckdb").exists()


@pytest.mark.unit
def test_the_ports_resource_reads_an_identitys_keys_from_its_file(tmp_path, monkeypatch):
    (tmp_path / "sales.json").write_text(json.dumps({"access_key": "sales-key", "secret_key": "sales-secret"}))
    monkeypatch.setenv("MESH_S3_CREDENTIALS", str(tmp_path))
    resource = PortsResource.from_settings("sales")
    assert resource.s3_credentials_file == str(tmp_path / "sales.json") and not resource.s3_secret_access_key
    s3 = resource.process_config_and_initialize().storage().s3
    assert (s3.access_key, s3.secret_key) == ("sales-key", "sales-secret")


@pytest.mark.unit
def test_secrets_are_configured_by_the_variable_that_holds_them_and_read_at_run_time(tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_HOME", str(tmp_path))
    monkeypatch.setenv("MESH_MASKING_SALT", "a deployment's secret")
    monkeypatch.setenv("MESH_S3_SECRET_ACCESS_KEY", "an s3 secret")
    monkeypatch.delenv("MESH_S3_CREDENTIALS", raising=False)
    masking, ports = MaskingResource.from_settings(), PortsResource.from_settings("sales")
    assert masking.shared_secret == EnvVar("MESH_MASKING_SALT") and ports.s3_secret_access_key == EnvVar("MESH_S3_SECRET_ACCESS_KEY")
    assert masking.process_config_and_initialize().key() == b"a deployment's secret"
    assert ports.process_config_and_initialize().storage().s3.secret_key == "an s3 secret"
    # And as the location's load and `mesh run`'s up-to-date check reach the port catalog, without
    # Dagster's processing of the configuration (an ephemeral instance: 0.1 s of every load).
    assert ports.storage().s3.secret_key == "an s3 secret"
    # Unset when the location loads: the installation's key file, no EnvVar a run would fail to read.
    monkeypatch.delenv("MESH_MASKING_SALT")
    masking = MaskingResource.from_settings().process_config_and_initialize()
    assert masking.shared_secret == "" and masking.key() == (tmp_path / "secrets" / "masking.key").read_bytes()


RESOURCES = """
query($location: String!) { workspaceLocationEntryOrError(name: $location) { ... on WorkspaceLocationEntry {
  locationOrLoadError { __typename ... on PythonError { message } ... on RepositoryLocation { repositories {
    allTopLevelResourceDetails { name description configuredValues { key value type } } } } } } } }
"""


def test_the_ui_shows_each_resource_and_no_secret(seeded_env, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "workspace.yaml").write_text(yaml.safe_dump({"load_from": [
        {"python_file": {"relative_path": str(REPO / "domains" / "sales" / "definitions.py"), "location_name": "sales"}},
    ]}))
    env = {**seeded_env, "MESH_S3_ACCESS_KEY_ID": "sales-key", "MESH_S3_SECRET_ACCESS_KEY": "an s3 secret", "MESH_MASKING_SALT": "a deployment's secret"}
    with webserver(env, root=root) as url:
        entry = graphql(url, RESOURCES, {"location": "sales"})["workspaceLocationEntryOrError"]["locationOrLoadError"]
    assert entry["__typename"] == "RepositoryLocation", entry.get("message")
    (repository,) = entry["repositories"]
    # A value shows as JSON, an environment variable by its name.
    shown = {r["name"]: {v["key"]: (v["type"], json.loads(v["value"]) if v["type"] == "VALUE" else v["value"]) for v in r["configuredValues"]}
             for r in repository["allTopLevelResourceDetails"]}
    assert {"dbt", "ports", "warehouse", "masking"} <= set(shown)
    home = Path(seeded_env["MESH_HOME"]).resolve()
    assert shown["ports"]["catalog_uri"] == ("VALUE", f"sqlite:///{home / 'ports' / 'catalog.db'}")
    assert shown["ports"]["s3_secret_access_key"] == ("ENV_VAR", "MESH_S3_SECRET_ACCESS_KEY")
    assert shown["warehouse"]["path"] == ("VALUE", str(home / "warehouse" / "sales.duckdb"))
    assert shown["masking"]["key_file"] == ("VALUE", str(home / "secrets" / "masking.key"))
    assert shown["masking"]["shared_secret"] == ("ENV_VAR", "MESH_MASKING_SALT")
    assert "an s3 secret" not in json.dumps(repository) and "a deployment's secret" not in json.dumps(repository)
