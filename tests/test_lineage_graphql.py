"""The real webserver, serving workspace.yaml: global lineage, schedules and sensors, through GraphQL."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from platform_lib.assets.sources import operational_group
from platform_lib.mesh import load_mesh
from tests.support.processes import graphql, webserver

ASSETS = """
{ assetNodes { assetKey { path } dependencyKeys { path } groupName isMaterializable
               repository { location { name } } } }
"""

LOCATIONS = """
{ workspaceOrError { ... on Workspace { locationEntries { name
    locationOrLoadError {
      __typename
      ... on PythonError { message }
      ... on RepositoryLocation { repositories {
          schedules { name cronSchedule scheduleState { status } }
          sensors { name sensorType sensorState { status } } } } } } } } }
"""


@pytest.fixture(scope="module")
def url(mesh_run):
    """The webserver on the mesh after a `mesh run`: its instance exists, and holds every domain's run."""
    with webserver(mesh_run) as url:
        yield url


@pytest.fixture(scope="module")
def served(url):
    return {"assets": graphql(url, ASSETS)["assetNodes"], "locations": graphql(url, LOCATIONS)["workspaceOrError"]["locationEntries"]}


def expected_cross_domain_edges() -> set[tuple[str, str]]:
    """From the product descriptors: each consumer product reads its input ports' producer assets."""
    mesh = load_mesh()
    edges = set()
    for domain in mesh.domains:
        for product in domain.products:
            for port in product.input_ports:
                producer = mesh.producer_port(port)
                for output in product.output_ports:
                    edges.add(("/".join(producer.asset_key), f"{domain.name}/{output.contract.model}"))
    return edges


def test_every_location_loads(served):
    entries = {e["name"]: e["locationOrLoadError"] for e in served["locations"]}
    assert sorted(entries) == sorted([*(d.name for d in load_mesh().domains), "governance"])
    for name, entry in entries.items():
        assert entry["__typename"] == "RepositoryLocation", f"{name}: {entry.get('message')}"


def test_global_lineage_has_every_cross_domain_edge(served):
    materializable = {"/".join(n["assetKey"]["path"]): n for n in served["assets"] if n["isMaterializable"]}
    drawn = {
        ("/".join(dep["path"]), key)
        for key, node in materializable.items()
        for dep in node["dependencyKeys"]
        if dep["path"][0] != node["assetKey"]["path"][0]
    }
    expected = expected_cross_domain_edges()
    assert len(expected) == 16
    assert drawn == expected
    for upstream, _ in drawn:
        assert upstream in materializable, f"{upstream} is drawn but no location materializes it"
    for key, node in materializable.items():
        assert node["groupName"] == key.split("/")[0] == node["repository"]["location"]["name"]


def test_no_group_shows_two_assets_of_one_name(served):
    """The lineage view names a node by its key's last part: a domain's table `orders` and its model
    `orders` in one group would be two boxes named alike."""
    names = Counter((n["repository"]["location"]["name"], n["groupName"], n["assetKey"]["path"][-1]) for n in served["assets"])
    assert [name for name, count in names.items() if count > 1] == []


OBSERVED = """
{ assetNodes { assetKey { path } groupName isObservable dataVersion
               assetObservations(limit: 1) { runId metadataEntries { label ... on IntMetadataEntry { intValue } } } } }
"""
RUN = "query ($id: ID!) { runOrError(runId: $id) { ... on Run { jobName status } } }"


def test_each_domain_run_observes_its_operational_sources(mesh_run, url):
    """After `mesh run`, each operational source shows as observed by its domain's job (its row count
    read from the landed file), not as never materialized."""
    nodes = {tuple(n["assetKey"]["path"]): n for n in graphql(url, OBSERVED)["assetNodes"]}
    sources = [(d.name, table) for d in load_mesh().domains for table in d.operational_sources]
    assert sources
    for domain, table in sources:
        node = nodes[(domain, "operational", table)]
        assert node["isObservable"] and node["groupName"] == operational_group(domain), node
        assert node["dataVersion"], node
        (observation,) = node["assetObservations"]
        run = graphql(url, RUN, {"id": observation["runId"]})["runOrError"]
        assert run == {"jobName": f"{domain}_products", "status": "SUCCESS"}
        rows = {m["label"]: m.get("intValue") for m in observation["metadataEntries"]}["dagster/row_count"]
        assert rows == pq.read_metadata(Path(mesh_run["MESH_HOME"], "sources", domain, f"{table}.parquet")).num_rows > 0


def test_each_domain_has_a_running_schedule_and_automation_sensor(served):
    mesh = load_mesh()
    repos = {e["name"]: e["locationOrLoadError"]["repositories"][0] for e in served["locations"]}
    assert [(s["name"], s["scheduleState"]["status"]) for s in repos.pop("governance")["schedules"]] == [("governance_schedule", "RUNNING")]
    for name, repo in repos.items():
        domain = mesh.domain(name)
        assert [(s["name"], s["cronSchedule"], s["scheduleState"]["status"]) for s in repo["schedules"]] == [
            (f"{domain.name}_schedule", domain.cron, "RUNNING")
        ]
        assert [(s["name"], s["sensorType"], s["sensorState"]["status"]) for s in repo["sensors"]] == [
            (f"{domain.name}_automation", "AUTO_MATERIALIZE", "RUNNING")
        ]


PORT = """
query ($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
  owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
  internalFreshnessPolicy { ... on TimeWindowFreshnessPolicy { failWindowSeconds warnWindowSeconds } }
  assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
  metadataEntries { label ... on TableSchemaMetadataEntry { schema { columns { name description tags { key value } } } } }
} } }
"""


def test_each_port_shows_its_contract(url):
    from platform_lib.lineage.classification import CHECK as CLASSIFICATION_CHECK
    from platform_lib.quality.rules import SCHEMA_CHECK, contract_rules

    for domain in load_mesh().domains:
        for port in domain.output_ports:
            node = graphql(url, PORT, {"path": list(port.asset_key)})["assetNodeOrError"]
            assert {o.get("team") or o.get("email") for o in node["owners"]} == {domain.team, domain.email}
            # frequency 1 d + latency 4 h
            assert node["internalFreshnessPolicy"] == {"failWindowSeconds": 28 * 3600, "warnWindowSeconds": 24 * 3600}
            checks = node["assetChecksOrError"]["checks"]
            assert {c["name"] for c in checks} == {SCHEMA_CHECK, CLASSIFICATION_CHECK, *(r.name for r in contract_rules(port.contract))}
            assert all(c["blocking"] for c in checks)
            (schema,) = [m["schema"] for m in node["metadataEntries"] if m["label"] == "dagster/column_schema"]
            assert [(c["name"], c["description"], {t["key"]: t["value"] for t in c["tags"]}["classification"]) for c in schema["columns"]] == [
                (c.name, c.description, c.classification) for c in port.contract.columns
            ]


COLUMN_LINEAGE = """
query ($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
  repository { location { name } }
  assetMaterializations(limit: 1) { metadataEntries { label
    ... on TableColumnLineageMetadataEntry { lineage { columnName columnDeps { assetKey { path } columnName } } } } }
} } }
"""


def test_a_finance_ports_column_lineage_points_at_sales_port_columns(url):
    """Dagster's own column lineage (`dagster/column_lineage`, drawn by Dagster+), read back from the
    webserver: finance's Q5 port, its revenue from sales' port asset, in another code location."""
    node = graphql(url, COLUMN_LINEAGE, {"path": ["finance", "revenue_by_nation_v1"]})["assetNodeOrError"]
    (latest,) = node["assetMaterializations"]
    (entry,) = [m for m in latest["metadataEntries"] if m["label"] == "dagster/column_lineage"]
    lineage = {e["columnName"]: {("/".join(d["assetKey"]["path"]), d["columnName"]) for d in e["columnDeps"]} for e in entry["lineage"]}
    assert lineage == {
        "n_name": {("customers/geography_v2", "nation")},
        "revenue": {("sales/line_items_v1", "discount"), ("sales/line_items_v1", "extended_price")},
    }
    sales = graphql(url, COLUMN_LINEAGE, {"path": ["sales", "line_items_v1"]})["assetNodeOrError"]
    assert (node["repository"]["location"]["name"], sales["repository"]["location"]["name"]) == ("finance", "sales")
