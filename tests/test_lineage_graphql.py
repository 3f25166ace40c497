"""The real webserver, serving workspace.yaml: global lineage, schedules and sensors, through GraphQL."""

from __future__ import annotations

import pytest

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
def served(seeded_env):
    with webserver(seeded_env) as url:
        yield {"assets": graphql(url, ASSETS)["assetNodes"], "locations": graphql(url, LOCATIONS)["workspaceOrError"]["locationEntries"]}


def expected_cross_domain_edges() -> set[tuple[str, str]]:
    """From the product descriptors: each consumer product reads its input ports' producer assets."""
    mesh = load_mesh()
    edges = set()
    for domain in mesh.domains:
        for product in domain.products:
            for port in product.input_ports:
                producer = mesh.producer_port(product, port)
                for output in product.output_ports:
                    edges.add(("/".join(producer.asset_key), f"{domain.name}/{output.contract.model}"))
    return edges


def test_every_location_loads(served):
    entries = {e["name"]: e["locationOrLoadError"] for e in served["locations"]}
    assert sorted(entries) == sorted(d.name for d in load_mesh().domains)
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


def test_each_domain_has_a_running_schedule_and_automation_sensor(served):
    mesh = load_mesh()
    for entry in served["locations"]:
        (repo,) = entry["locationOrLoadError"]["repositories"]
        domain = mesh.domain(entry["name"])
        assert [(s["name"], s["cronSchedule"], s["scheduleState"]["status"]) for s in repo["schedules"]] == [
            (f"{domain.name}_schedule", domain.cron, "RUNNING")
        ]
        assert [(s["name"], s["sensorType"], s["sensorState"]["status"]) for s in repo["sensors"]] == [
            (f"{domain.name}_automation", "AUTO_MATERIALIZE", "RUNNING")
        ]
