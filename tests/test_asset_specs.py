"""A domain's assets as its code location builds them, from its descriptors and dbt manifest: models
keyed [domain, model], sources keyed by what they bind (an operational source of the domain, or the
producer's port, which draws the cross-domain edges), and each output port an asset behind its model
with a blocking check per contract rule."""

from __future__ import annotations

import copy

import pytest
from dagster import AssetKey

from platform_lib.assets.dbt import MeshTranslator
from platform_lib.assets.ports import check_specs, port_spec
from platform_lib.dbt.manifest import load_manifest
from platform_lib.lineage.classification import CHECK as CLASSIFICATION_CHECK
from platform_lib.mesh import load_mesh
from platform_lib.ports.binding import UnboundSource
from platform_lib.ports.data_versions import code_version
from platform_lib.quality.rules import SCHEMA_CHECK, contract_rules

pytestmark = pytest.mark.unit

MESH = load_mesh()
DOMAINS = [d.name for d in MESH.domains]


def own(manifest: dict, domain: str) -> tuple[list[dict], list[dict]]:
    """The domain's own dbt models and sources (not those of packages it installs)."""
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["package_name"] == domain]
    return models, [s for s in manifest["sources"].values() if s["package_name"] == domain]


@pytest.mark.parametrize("name", DOMAINS)
def test_models_are_keyed_by_domain_and_sources_by_what_they_bind(name):
    domain = MESH.domain(name)
    models, sources = own(load_manifest(domain), name)
    translator = MeshTranslator(domain, None)
    assert models and sources
    assert {translator.get_asset_key(model) for model in models} == {AssetKey([name, model["name"]]) for model in models}
    operational = {AssetKey([name, "operational", source]) for source in domain.operational_sources}
    producers = {AssetKey(list(MESH.producer_port(port).asset_key)) for product in domain.products for port in product.input_ports}
    assert {translator.get_asset_key(source) for source in sources} == operational | producers


def test_a_source_bound_to_no_asset_key_is_refused_naming_its_file():
    domain = MESH.domain("sales")
    _, sources = own(load_manifest(domain), "sales")
    source = copy.deepcopy(sources[0])
    source["config"]["meta"] = source["meta"] = {}
    with pytest.raises(UnboundSource) as refused:
        MeshTranslator(domain, None).get_asset_key(source)
    assert str(refused.value) == (
        f"{source['original_file_path']}: source {source['source_name']}.{source['name']}: set config.meta.dagster.asset_key"
    )


@pytest.mark.parametrize("name", DOMAINS)
def test_each_port_is_an_asset_behind_its_model_with_a_blocking_check_per_rule(name):
    domain = MESH.domain(name)
    models, _ = own(load_manifest(domain), name)
    model_keys = {MeshTranslator(domain, None).get_asset_key(model) for model in models}
    assert domain.output_ports
    for port in domain.output_ports:
        spec = port_spec(domain, port, load_manifest(domain), None)
        assert spec.key == AssetKey(list(port.asset_key)) and spec.group_name == name
        assert spec.code_version == code_version(domain, port, load_manifest(domain))
        (dep,) = spec.deps
        assert dep.asset_key == AssetKey([name, port.contract.model]) and dep.asset_key in model_keys
        assert [c.name for c in spec.metadata["dagster/column_schema"].columns] == [c.name for c in port.contract.columns]
        checks = check_specs(port)
        assert [c.name for c in checks] == [SCHEMA_CHECK, CLASSIFICATION_CHECK, *(rule.name for rule in contract_rules(port.contract))]
        assert all(c.blocking and c.asset_key == spec.key for c in checks)


def test_a_port_code_version_changes_with_the_compiled_sql_of_the_models_it_is_computed_from():
    sales = MESH.domain("sales")
    manifest = load_manifest(sales)
    before = {port.asset_key[1]: code_version(sales, port, manifest) for port in sales.output_ports}
    # A staging model two of the ports are computed from, the third not.
    edited = copy.deepcopy(manifest)
    edited["nodes"]["model.sales.stg_lineitem"]["compiled_code"] += "\nwhere l_quantity > 0"
    after = {port.asset_key[1]: code_version(sales, port, edited) for port in sales.output_ports}
    assert after["line_items_v1"] != before["line_items_v1"]
    assert after["pricing_summary_v1"] != before["pricing_summary_v1"]
    assert after["orders_v1"] == before["orders_v1"]
