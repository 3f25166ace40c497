"""Every domain is a code location that loads on its own, with namespaced, fully described assets."""

from __future__ import annotations

import subprocess
from collections import Counter

import pytest
from dagster import AssetKey

from platform_lib.cli.run import load_definitions
from platform_lib.mesh import load_mesh
from tests.support.processes import BIN, REPO

MESH = load_mesh()
DOMAINS = [d.name for d in MESH.domains]


@pytest.fixture(scope="module")
def graphs():
    return {d.name: load_definitions(d.folder).resolve_asset_graph() for d in MESH.domains}


def defined_keys(domain: str, graph) -> set[AssetKey]:
    """Keys a location defines: what it materializes, and the external sources it declares itself.
    Cross-location dependencies appear in each graph as non-executable stubs and are not counted."""
    return {key for key in graph.get_all_asset_keys() if graph.get(key).is_materializable or key.path[0] == domain}


def duplicated(keys_by_location: dict[str, set[AssetKey]]) -> set[AssetKey]:
    counts = Counter(key for keys in keys_by_location.values() for key in keys)
    return {key for key, n in counts.items() if n > 1}


def test_workspace_validates(seeded_env):
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, env=seeded_env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for domain in DOMAINS:
        assert f"{domain}" in result.stdout + result.stderr


def test_no_asset_key_is_defined_by_two_locations(graphs):
    keys = {domain: defined_keys(domain, graph) for domain, graph in graphs.items()}
    assert duplicated(keys) == set()
    # The check itself must see a duplicate when there is one.
    assert duplicated({"a": keys["sales"], "b": keys["sales"]}) == keys["sales"]


def test_every_key_starts_with_its_domain(graphs):
    for domain, graph in graphs.items():
        assert {key.path[0] for key in defined_keys(domain, graph)} == {domain}


def test_operational_sources_are_declared_by_their_domain(graphs):
    for domain in MESH.domains:
        declared = {key.path[-1] for key in graphs[domain.name].get_all_asset_keys() if key.path[1:2] == ["operational"]}
        assert declared == set(domain.operational_sources)


def test_every_asset_is_described(graphs):
    for domain, graph in graphs.items():
        for key in defined_keys(domain, graph):
            spec = graph.get(key)
            assert spec.group_name == domain, key
            assert spec.owners, key
            assert spec.description, key
            assert spec.kinds, key
            schema = spec.metadata.get("dagster/column_schema")
            assert schema is not None and schema.columns, f"{key} has no column schema"
            assert all(column.description for column in schema.columns), key


def test_products_publish_every_declared_port(graphs):
    for domain in MESH.domains:
        for port in domain.output_ports:
            spec = graphs[domain.name].get(AssetKey(list(port.asset_key)))
            assert spec.is_materializable and spec.code_version == port.contract.version
            assert [c.name for c in spec.metadata["dagster/column_schema"].columns] == [c.name for c in port.contract.columns]
