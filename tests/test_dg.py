"""Each domain folder is a project Dagster's `dg` CLI reads (its dg.toml), whose one component is the
domain (platform_lib.DataMeshDomain): `dg list defs` lists the asset keys and checks of the committed
snapshot (test_asset_keys), `dg check yaml` and `dg check defs` validate it, naming the file and line
of a mistake, the platform's descriptors' included. (`mesh ui` is dg dev: tests/test_browser.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from platform_lib.descriptors.keys import COMPONENT_FILE
from platform_lib.mesh import load_mesh
from tests.conftest import mesh_env
from tests.support.processes import BIN, REPO
from tests.test_asset_keys import SNAPSHOT

DOMAINS = [domain.name for domain in load_mesh().domains]


def dg(*args: str, domain: str, env: dict, root: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "dg"), *args], cwd=root / "domains" / domain, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("dg")
    return {**mesh_env(home), "DAGSTER_HOME": str(home)}


@pytest.fixture(scope="module")
def listed(env) -> dict[str, dict]:
    """Domain -> what `dg list defs --json` lists in its folder."""
    found = {}
    for domain in DOMAINS:
        result = dg("list", "defs", "--json", domain=domain, env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        found[domain] = json.loads(result.stdout)
    return found


def keys(domain: str, defs: dict) -> set[str]:
    """The asset keys a location defines, counted as the snapshot counts them (what it executes, and
    its own keys; not the other domains' ports it reads, which dg lists as non-executable), and its checks."""
    return {a["asset_key"] for a in defs["assets"] if a["is_executable"] or a["asset_key"].startswith(f"{domain}/")} | \
        {c["key"] for c in defs["asset_checks"]}


def test_dg_lists_every_asset_and_check_of_the_snapshot(listed):
    snapshot = [line for line in SNAPSHOT.read_text().splitlines() if line.split("/")[0] in DOMAINS]
    assert sorted(set().union(*(keys(domain, defs) for domain, defs in listed.items()))) == snapshot


@pytest.mark.parametrize("domain", DOMAINS)
def test_dg_lists_each_domains_job_schedule_and_sensor(domain, listed):
    defs = listed[domain]
    assert [job["name"] for job in defs["jobs"]] == [f"{domain}_products"]
    assert [schedule["name"] for schedule in defs["schedules"]] == [f"{domain}_schedule"]
    assert [sensor["name"] for sensor in defs["sensors"]] == [f"{domain}_automation"]


@pytest.mark.parametrize("domain", DOMAINS)
def test_dg_check_yaml_and_defs_validate_the_domain(domain, env):
    for command, verdict in (("yaml", "All component YAML validated successfully"), ("defs", "All definitions loaded successfully")):
        checked = dg("check", command, domain=domain, env=env)
        assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
        assert verdict in checked.stdout + checked.stderr


def test_dg_names_the_file_and_line_of_a_mistake_in_the_component_or_a_contract(env, tmp_path):
    for part in ("domains", "dbt_projects"):
        shutil.copytree(REPO / part / "sales", tmp_path / part / "sales", ignore=shutil.ignore_patterns("logs"))
    component = tmp_path / "domains" / "sales" / COMPONENT_FILE
    written = component.read_text()
    component.write_text(written.replace("type: platform_lib.DataMeshDomain", "type: platform_lib.DataMeshDomain\nattributes:\n  folder: sales"))
    line = component.read_text().splitlines().index("  folder: sales") + 1
    checked = dg("check", "yaml", domain="sales", env=env, root=tmp_path)
    assert checked.returncode != 0
    assert f"{component}:{line} - platform_lib.DataMeshDomain attributes.folder Additional properties are not allowed" in checked.stdout, checked.stdout
    component.write_text(written)

    contract = tmp_path / "domains" / "sales" / "products" / "orders" / "orders.odcs.yaml"
    text = contract.read_text()
    contract.write_text(text.replace("logicalType: integer", "logicalType: intger", 1))
    line = text[:text.index("logicalType: integer")].count("\n") + 1
    checked = dg("check", "defs", domain="sales", env=env, root=tmp_path)
    assert checked.returncode != 0
    assert f"{contract}:{line}: schema[0].properties[0].logicalType: 'intger' is not one of" in checked.stdout + checked.stderr, checked.stdout[-3000:]
