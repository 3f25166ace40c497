"""Each domain folder is a project Dagster's `dg` CLI reads (its dg.toml): `dg list defs` lists the
asset keys and checks of the committed snapshot (test_asset_keys), and `dg check defs` validates it.
`mesh ui` is dg dev."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from platform_lib.mesh import load_mesh
from tests.conftest import mesh_env
from tests.support.processes import BIN, REPO, graphql, webserver
from tests.test_asset_keys import SNAPSHOT

DOMAINS = [domain.name for domain in load_mesh().domains]


def dg(*args: str, domain: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "dg"), *args], cwd=REPO / "domains" / domain, env=env, capture_output=True, text=True, timeout=300)


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
def test_dg_check_defs_validates_the_domain(domain, env):
    checked = dg("check", "defs", domain=domain, env=env)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr


def test_mesh_ui_serves_the_workspace_with_dg_dev(env):
    """`mesh ui` is dg dev on workspace.yaml: every location, the platform's governance with the
    domains', and none of the warning `dagster dev` prints now that it is superseded."""
    with webserver(env, mesh_ui=True) as url:
        entries = graphql(url, "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }")["workspaceOrError"]["locationEntries"]
    assert sorted((e["name"], e["loadStatus"]) for e in entries) == sorted((name, "LOADED") for name in [*DOMAINS, "governance"])
    output = (Path(env["MESH_HOME"]) / f"webserver-{url.rsplit(':', 1)[1]}.log").read_text()
    assert "SupersessionWarning" not in output and "dg dev" not in output, output[-3000:]
