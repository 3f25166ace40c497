"""Nothing changed, nothing runs (issue 23): a `mesh run` recomputes only the products whose data
version changed (their inputs' versions or their code), across domains, and commits no snapshot
for the same content; `--force` recomputes everything."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance

from platform_lib.mesh import load_mesh
from platform_lib.runs import unchanged
from platform_lib.runs.unchanged import Checking
from tests.conftest import mesh_env
from tests.support.mesh_copy import edit, mesh_copy
from tests.support.ports import port_catalog
from tests.support.processes import REPO, graphql, mesh, webserver

RUN_LINE = re.compile(r"^\[\d+/\d+\] (\w+)\s+ok .* run ([0-9a-f-]{36})$", re.MULTILINE)
DOMAIN_LINE = re.compile(r"^\[\d+/\d+\] (\w+) ", re.MULTILINE)
UP_TO_DATE = re.compile(r"^\[\d+/\d+\] (\w+)\s+up to date  no run", re.MULTILINE)


def snapshots(env) -> dict[tuple[str, str], int]:
    """Port -> its current snapshot."""
    with port_catalog(env) as catalog:
        return {key: catalog.current(key).snapshot_id for key in catalog.ports()}


def materialized(env, output: str) -> dict[str, set[str]]:
    """Domain -> every asset the runs of one `mesh run` materialized (dbt models and ports); none
    for a domain `mesh run` found up to date without a run."""
    runs = dict(RUN_LINE.findall(output))
    with DagsterInstance.from_config(str(Path(env["MESH_HOME"]) / "dagster")) as instance:
        return {domain: {e.dagster_event.asset_key.to_user_string() for e in instance.all_logs(runs[domain], of_type=DagsterEventType.ASSET_MATERIALIZATION)}
                if domain in runs else set() for domain in DOMAIN_LINE.findall(output) if domain != "governance"}


STALENESS_OF = ("supply/suppliers", "supply/suppliers_v1", "supply/parts_v1", "finance/revenue_by_nation_v1")
STALENESS = """
query Staleness($keys: [AssetKeyInput!]) { assetNodes(assetKeys: $keys) {
  assetKey { path } staleStatus staleCauses { reason category } } }
"""


def staleness(url: str) -> dict[str, tuple[str, list[str]]]:
    """What the UI says of some assets: each one's stale status, and why."""
    keys = [{"path": key.split("/")} for key in STALENESS_OF]
    nodes = graphql(url, STALENESS, {"keys": keys})["assetNodes"]
    return {"/".join(n["assetKey"]["path"]): (n["staleStatus"], [c["reason"] for c in n["staleCauses"]]) for n in nodes}


def changed(before: dict, after: dict) -> set[str]:
    return {"/".join(key) for key in after if before.get(key) != after[key]}


def rewrite(path: Path, where: str) -> None:
    """A new version of an operational source: its rows filtered."""
    with duckdb.connect() as con:
        con.execute(f"COPY (select * from read_parquet('{path}') where {where}) TO '{path}.new' (FORMAT parquet)")
    os.replace(f"{path}.new", path)


@pytest.fixture(scope="module")
def home(seeded_env, tmp_path_factory) -> dict:
    """A mesh of this module's own, run whole once. Each test first brings it up to date."""
    home = tmp_path_factory.mktemp("incremental")
    shutil.copytree(Path(seeded_env["MESH_HOME"]) / "sources", home / "sources")
    env = mesh_env(home)
    mesh("run", env=env)
    return env


def test_a_second_run_with_nothing_changed_commits_no_snapshot_and_runs_no_dbt_model(home):
    mesh("run", env=home)
    before = snapshots(home)
    result = mesh("run", env=home)
    assert snapshots(home) == before
    # No Dagster run (no dbt model, no materialization): not a domain's, and not the scorecard's,
    # which would record what the last run recorded.
    assert RUN_LINE.findall(result.stderr) == [], result.stderr
    assert sorted(UP_TO_DATE.findall(result.stderr)) == ["customers", "finance", "governance", "marketing", "sales", "supply"], result.stderr
    ports = re.findall(r"^    \S+\s+(\S+_v\d+)\s+(.+?)\s{2}", result.stderr, re.MULTILINE)
    assert len(ports) == len(before) and {status for _, status in ports} == {"up to date"}, result.stderr
    # Each port records that it was checked, as an observation (which wakes no consumer).
    with DagsterInstance.from_config(str(Path(home["MESH_HOME"]) / "dagster")) as instance:
        (checked,) = instance.fetch_observations(AssetKey(["sales", "orders_v1"]), limit=1).records
    assert "unchanged, checked by `mesh run`" in checked.asset_observation.metadata["mesh/up_to_date"].value


def test_with_nothing_changed_the_commands_own_process_never_opens_the_catalog(home):
    """Whether anything changed is asked in a process forked before Dagster is imported
    (runs.unchanged): the command's own process imports Dagster to record the check, and neither
    pyiceberg nor dbt. Each is a second of imports, most of what such a run would cost."""
    mesh("run", env=home)
    said = subprocess.run([sys.executable, "-c", (
        "import sys\nfrom platform_lib.cli.main import main\nrc = main(['run'])\n"
        "print(rc, sorted(m for m in ('dagster', 'pyiceberg', 'dbt') if m in sys.modules))")],
        env=home, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert sorted(UP_TO_DATE.findall(said.stderr)) == ["customers", "finance", "governance", "marketing", "sales", "supply"], said.stderr
    assert said.stdout.split("\n")[-2] == "0 ['dagster']", said.stdout + said.stderr


def test_a_check_that_dies_answers_nothing_and_leaves_each_domain_to_check_in_its_own_run(home, monkeypatch):
    """The check's process killed (out of memory, a crash in a native library) gives no answer, not
    a wrong one: the command then runs each domain, whose run checks for itself."""
    monkeypatch.setattr(unchanged, "check", lambda mesh: os._exit(9))
    monkeypatch.setenv("MESH_HOME", home["MESH_HOME"])
    assert Checking(load_mesh()).result() is None


def test_a_changed_operational_source_recomputes_what_reads_it_across_domains_only(home):
    mesh("run", env=home)
    before = snapshots(home)
    rewrite(Path(home["MESH_HOME"]) / "sources" / "sales" / "lineitem.parquet", "l_orderkey % 97 <> 5")
    result = mesh("run", env=home)
    made = materialized(home, result.stderr)
    # Sales' products that read line items, and finance's that read them in turn, are recomputed;
    # nothing that does not (sales' orders; marketing's products read orders and customers). A
    # recomputed product publishes only if its content changed.
    assert {"sales/line_items_v1", "sales/pricing_summary_v1"} <= changed(before, snapshots(home)) <= {
        "sales/line_items_v1", "sales/pricing_summary_v1", "finance/revenue_by_nation_v1", "finance/returned_item_report_v1",
        "finance/shipping_priority_v1"}, result.stderr
    assert {"finance/revenue_by_nation", "finance/returned_item_report", "finance/shipping_priority"} <= made["finance"], result.stderr
    assert made["customers"] == made["supply"] == made["marketing"] == set(), result.stderr
    assert not {"sales/orders", "sales/orders_v1"} & made["sales"], made["sales"]


def test_force_recomputes_and_publishes_every_product(home):
    mesh("run", env=home)
    before = snapshots(home)
    result = mesh("run", "--domain", "supply", "--force", env=home)
    supply = {"/".join(key) for key in before if key[0] == "supply"}
    assert changed(before, snapshots(home)) == supply, result.stderr
    assert {"supply/parts", "supply/part_supply", "supply/suppliers"} | supply <= materialized(home, result.stderr)["supply"]


def test_a_changed_model_recomputes_its_product_and_its_consumers_only(seeded_env, tmp_path):
    root = mesh_copy(tmp_path)
    home = tmp_path / "home"
    shutil.copytree(Path(seeded_env["MESH_HOME"]) / "sources", home / "sources")
    env = {**mesh_env(home), "MESH_ROOT": str(root)}
    mesh("run", env=env)
    before = snapshots(env)
    edit(root / "dbt_projects" / "supply" / "models" / "products" / "suppliers.sql", "select * from {{ ref('stg_supplier') }}",
         "select * from {{ ref('stg_supplier') }} where supplier_key % 10 <> 3")
    mesh("prepare", env=env)
    with webserver(env, root=root) as url:
        # The UI shows it the Dagster way: the model and its port have a new code version (the
        # port's is the code part of its data version); finance's port, whose input has no new
        # data version yet, is not stale until there is one.
        stale = staleness(url)
        assert stale["supply/suppliers"] == stale["supply/suppliers_v1"] == ("STALE", ["has a new code version"]), stale
        assert stale["supply/parts_v1"] == stale["finance/revenue_by_nation_v1"] == ("FRESH", []), stale
        result = mesh("run", env=env)
        assert {key: status for key, (status, _) in staleness(url).items()} == dict.fromkeys(STALENESS_OF, "FRESH"), result.stderr
    made = materialized(env, result.stderr)
    assert changed(before, snapshots(env)) == {"supply/suppliers_v1", "finance/revenue_by_nation_v1"}, result.stderr
    assert made["supply"] == {"supply/suppliers", "supply/stg_supplier", "supply/suppliers_v1"}, made["supply"]
    assert made["sales"] == made["customers"] == made["marketing"] == set(), result.stderr
    assert {"finance/revenue_by_nation", "finance/revenue_by_nation_v1"} <= made["finance"], made["finance"]
    assert not {"finance/shipping_priority", "finance/returned_item_report"} & made["finance"], made["finance"]
    # Two ports published, and every policy judges the mesh as before: the scorecard needs no run.
    assert "governance" in UP_TO_DATE.findall(result.stderr), result.stderr

    # A policy held to a higher severity changes the scorecard, and no data version: only the
    # scorecard runs.
    edit(root / "domains" / "customers" / "domain.yaml", "operationalSources:", "governance:\n  severities: {deprecated-consumers: error}\noperationalSources:")
    result = mesh("run", env=env)
    assert [domain for domain, _ in RUN_LINE.findall(result.stderr)] == ["governance"], result.stderr
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        scorecard = instance.get_latest_materialization_event(AssetKey(["governance", "scorecard"])).asset_materialization
    assert scorecard.metadata["violations"].value == 1, scorecard.metadata
