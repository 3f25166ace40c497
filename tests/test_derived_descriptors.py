"""A descriptor says each thing once: what its folder and domain.yaml say (ids, URNs, names, team,
support, servers, a product's output ports) the platform derives, and a descriptor that states it
anyway must agree (policy naming). What a port publishes stays complete ODCS, field for field the
contract its team wrote in full before (tests/snapshots/published_contracts)."""

from __future__ import annotations

import shutil

import pytest
import yaml

from platform_lib.descriptors.contract import load_contract
from platform_lib.descriptors.domain import load_domain
from platform_lib.descriptors.standards import validate_odcs
from platform_lib.descriptors.yaml_file import load_yaml
from platform_lib.governance.policies import naming
from platform_lib.governance.policy import Subject
from platform_lib.mesh import Mesh, load_mesh
from platform_lib.ports.publish import published_properties
from platform_lib.ports.published import CONTRACT
from tests.support.mesh_copy import edit, line_of
from tests.support.processes import REPO

pytestmark = pytest.mark.unit

SNAPSHOTS = REPO / "tests" / "snapshots" / "published_contracts"
MESH = load_mesh()
PORTS = [(product, port) for domain in MESH.domains for product in domain.products for port in product.output_ports]
CONSUMER = REPO / "domains" / "marketing" / "products" / "customer_order_distribution"


def snapshot_of(port) -> str:
    return f"{port.domain}.{port.contract.file.name}"


@pytest.mark.parametrize(("product", "port"), PORTS, ids=[snapshot_of(port) for _, port in PORTS])
def test_what_a_port_publishes_is_the_complete_contract_it_always_was(product, port):
    published = published_properties(port, product)[CONTRACT]
    assert yaml.safe_load(published) == yaml.safe_load((SNAPSHOTS / snapshot_of(port)).read_text())
    # Complete ODCS on its own, as a consumer or an outside tool reads it: no folder to fill it in.
    validate_odcs(load_yaml(SNAPSHOTS / snapshot_of(port), published))
    assert load_contract(port.contract.file, published) == port.contract


def test_every_snapshot_is_a_port_of_the_mesh():
    assert sorted(p.name for p in SNAPSHOTS.iterdir()) == sorted(snapshot_of(port) for _, port in PORTS)


def test_the_consumer_product_says_each_thing_once():
    """Marketing's Q13 product: what its team writes (52 lines), against 134 when every field was stated."""
    written = [CONSUMER / "product.odps.yaml", CONSUMER / "customer_order_distribution.odcs.yaml",
               REPO / "dbt_projects" / "marketing" / "models" / "products" / "customer_order_distribution.sql"]
    assert sum(len(path.read_text().splitlines()) for path in written) <= 70
    product = next(p for p in MESH.domain("marketing").products if p.name == "customer_order_distribution")
    assert (product.id, product.owner, product.support) == (
        "urn:mesh:product:marketing:customer_order_distribution", "marketing-analytics@mesh.example", ("#marketing-data",))
    assert [(p.name, p.contract_id) for p in product.input_ports] == [
        ("customers_customer_profiles", "urn:mesh:contract:customers:customer_profiles"), ("sales_orders", "urn:mesh:contract:sales:orders")]
    assert [(p.name, p.contract.id, p.asset_key) for p in product.output_ports] == [
        ("customer_order_distribution", "urn:mesh:contract:marketing:customer_order_distribution", ("marketing", "customer_order_distribution_v1"))]


@pytest.mark.parametrize(("field", "stated", "expected"), [
    ("id", "urn:mesh:contract:marketing:customer_orders", "'urn:mesh:contract:marketing:customer_order_distribution'"),
    ("domain", "sales", "'marketing'"),
    ("dataProduct", "orders", "'customer_order_distribution'"),
    ("team", {"name": "sales_data", "members": [{"username": "sales-data@mesh.example", "role": "owner"}]}, '{"name": "marketing_analytics"'),
])
def test_a_contract_that_states_what_its_folder_says_otherwise_is_a_naming_finding(tmp_path, field, stated, expected):
    folder = tmp_path / "marketing"
    shutil.copytree(REPO / "domains" / "marketing", folder)
    contract = folder / "products" / "customer_order_distribution" / "customer_order_distribution.odcs.yaml"
    contract.write_text(yaml.safe_dump({field: stated}, sort_keys=False) + contract.read_text())
    findings = list(naming.run(_subject(load_domain(folder))))
    assert [(f.file, f.line, f.field) for f in findings] == [(contract, 1, field)]
    assert findings[0].message.startswith(f"must be {expected}") and "or be left out: the platform fills it in" in findings[0].message


def test_an_input_port_name_left_out_is_derived_and_a_problem_points_at_its_entry(tmp_path):
    folder = tmp_path / "marketing"
    shutil.copytree(REPO / "domains" / "marketing", folder)
    descriptor = folder / "products" / "customer_order_distribution" / "product.odps.yaml"
    edit(descriptor, "    sales_orders: mesh_reader", "    sales_order: mesh_reader")
    with pytest.raises(Exception) as refused:
        load_domain(folder)
    line = line_of(descriptor, "    sales_order: mesh_reader")
    assert f"{descriptor}:{line}: customProperties[0].value.sales_order: 'sales_order' is not an input port of this product " \
           "(customers_customer_profiles, sales_orders)" in str(refused.value)


def _subject(domain) -> Subject:
    mesh = Mesh(tuple(d if d.name != domain.name else domain for d in MESH.domains))
    return Subject(mesh, domain)


def test_a_contract_keeps_the_promises_it_states_and_gets_the_domains_other_rules(tmp_path):
    """domain.yaml contractDefaults: a contract stating its own slaProperties keeps them; it gets each
    default quality rule whose name it does not use."""
    folder = tmp_path / "marketing"
    shutil.copytree(REPO / "domains" / "marketing", folder)
    path = folder / "products" / "customer_order_distribution" / "customer_order_distribution.odcs.yaml"
    data = yaml.safe_load(path.read_text())
    data["slaProperties"] = [{"property": "frequency", "value": 7, "unit": "d"}]
    data["schema"][0]["quality"] = [{"name": "two_or_more", "type": "library", "metric": "rowCount", "mustBeGreaterThan": 1}]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    contract = load_contract(path)
    assert [(s.property, s.value, s.unit) for s in contract.slas] == [("frequency", 7, "d")]
    assert [rule.name for rule in contract.quality] == ["two_or_more", "not_empty"]
    untouched = load_contract(folder / "products" / "global_sales_opportunity" / "global_sales_opportunity.odcs.yaml")
    assert [s.property for s in untouched.slas] == ["frequency", "latency", "retention"] and [r.name for r in untouched.quality] == ["not_empty"]


def test_what_domain_yaml_promises_for_every_port_is_judged_on_its_own_line(tmp_path):
    folder = tmp_path / "marketing"
    shutil.copytree(REPO / "domains" / "marketing", folder)
    domain_file = folder / "domain.yaml"
    edit(domain_file, "    value: 4\n    unit: h", "    value: 4\n    unit: fortnights")
    with pytest.raises(Exception) as refused:
        load_domain(folder)
    line = line_of(domain_file, "    unit: fortnights")
    assert str(refused.value).startswith(f"{domain_file}:{line}: contractDefaults.slaProperties[1].unit:"), str(refused.value)
