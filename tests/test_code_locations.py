"""Every domain is a code location that loads on its own, with namespaced, fully described assets."""

from __future__ import annotations

import re
import subprocess
from collections import Counter

import pytest
from dagster import AssetKey

from platform_lib.assets.sources import operational_group
from platform_lib.dbt.manifest import load_manifest
from platform_lib.mesh import load_mesh
from platform_lib.ports.data_versions import code_version
from tests.support.locations import defined_keys
from tests.support.processes import BIN, REPO

MESH = load_mesh()
DOMAINS = [d.name for d in MESH.domains]
# What `dagster definitions validate` logs of each location it loaded.
VALIDATED = re.compile(r" - Validation successful for code location (\w+)\.$", re.MULTILINE)


def duplicated(keys_by_location: dict[str, set[AssetKey]]) -> set[AssetKey]:
    counts = Counter(key for keys in keys_by_location.values() for key in keys)
    return {key for key, n in counts.items() if n > 1}


def test_workspace_validates(seeded_env):
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, env=seeded_env, capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Each location by its own line: a domain's name is in much else of the output (paths, contract
    # ids, warnings), and a location left out of the workspace would not fail the command.
    assert sorted(VALIDATED.findall(output)) == sorted([*DOMAINS, "governance"]), output[-3000:]


@pytest.mark.unit
def test_no_asset_key_is_defined_by_two_locations(location_graphs):
    keys = {location: defined_keys(location, graph) for location, graph in location_graphs.items()}
    assert duplicated(keys) == set()
    # The check itself must see a duplicate when there is one.
    assert duplicated({"a": keys["sales"], "b": keys["sales"]}) == keys["sales"]


@pytest.mark.unit
def test_every_key_starts_with_its_location(location_graphs):
    assert sorted(location_graphs) == sorted([*DOMAINS, "governance"])
    for location, graph in location_graphs.items():
        assert {key.path[0] for key in defined_keys(location, graph)} == {location}


@pytest.mark.unit
def test_operational_sources_are_declared_by_their_domain(location_graphs):
    for domain in MESH.domains:
        declared = {key.path[-1] for key in location_graphs[domain.name].get_all_asset_keys() if key.path[1:2] == ["operational"]}
        assert declared == set(domain.operational_sources)


@pytest.mark.unit
def test_every_asset_is_described(location_graphs):
    for domain in DOMAINS:
        graph = location_graphs[domain]
        keys = defined_keys(domain, graph)
        assert keys, domain
        for key in keys:
            spec = graph.get(key)
            assert spec.group_name == (operational_group(domain) if key.path[1:2] == ["operational"] else domain), key
            assert spec.owners, key
            assert spec.description, key
            assert spec.kinds, key
            schema = spec.metadata.get("dagster/column_schema")
            assert schema is not None and schema.columns, f"{key} has no column schema"
            assert all(column.description for column in schema.columns), key


@pytest.mark.unit
def test_products_publish_every_declared_port(location_graphs):
    for domain in MESH.domains:
        for port in domain.output_ports:
            spec = location_graphs[domain.name].get(AssetKey(list(port.asset_key)))
            # Its code version is the code part of its data version (ports.data_versions).
            assert spec.is_materializable and spec.code_version == code_version(domain, port, load_manifest(domain))
            assert [c.name for c in spec.metadata["dagster/column_schema"].columns] == [c.name for c in port.contract.columns]
