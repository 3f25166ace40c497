"""Descriptor loading: bad input is a one-line error naming the file, the field and the line."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from platform_lib.descriptors.contract import load_contract
from platform_lib.descriptors.domain import load_domain
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.keys import contract_id
from platform_lib.mesh import Mesh, load_mesh
from platform_lib.settings import DOMAINS_DIR
from tests.support.mesh_copy import edit, line_of

pytestmark = pytest.mark.unit


@pytest.fixture
def sales_copy(tmp_path) -> Path:
    folder = tmp_path / "sales"
    shutil.copytree(DOMAINS_DIR / "sales", folder)
    return folder


def error_of(folder: Path) -> str:
    with pytest.raises(DescriptorError) as info:
        load_domain(folder)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_repository_mesh_loads_every_domain():
    mesh = load_mesh()
    assert [d.name for d in mesh.domains] == ["sales", "customers", "supply", "finance", "marketing"]
    assert sum(len(d.products) for d in mesh.domains) == 13
    assert mesh.run_order().index("finance") > max(mesh.run_order().index(d) for d in ("sales", "customers", "supply"))


def reader(name, *producers):
    """A domain reading a port of each producer: all the domain graph looks at."""
    return SimpleNamespace(name=name, input_ports=[SimpleNamespace(contract_id=contract_id(p, "port"), major=1) for p in producers])


def test_the_domain_graph_runs_draws_and_selects_producers_first():
    # finance reads its own port (no edge) and one of legacy, a domain not in this workspace.
    mesh = Mesh((reader("sales"), reader("supply", "sales"), reader("finance", "supply", "finance", "legacy"), reader("marketing", "sales")))
    assert mesh.upstream["finance"] == {"supply", "legacy"}
    order = mesh.run_order()
    assert order.index("sales") < order.index("supply") < order.index("finance")
    assert mesh.depths == {"sales": 0, "supply": 1, "finance": 2, "marketing": 1}
    assert mesh.downstream_domains("sales") == {"supply", "finance", "marketing"}
    assert mesh.downstream_domains("legacy") == {"finance"}
    # finance waits for sales through supply, which is not selected.
    assert mesh.upstream_among(["finance", "sales", "marketing"]) == {"finance": {"sales"}, "sales": set(), "marketing": {"sales"}}
    assert mesh.cycle_through("finance") is None


def test_a_cycle_is_the_same_from_each_domain_on_it_and_is_still_drawn():
    mesh = Mesh((reader("sales", "supply"), reader("supply", "finance"), reader("finance", "sales"), reader("marketing", "finance")))
    # finance reads sales, which reads supply, which reads finance.
    assert [mesh.cycle_through(name) for name in ("sales", "supply", "finance")] == [["finance", "sales", "supply"]] * 3
    assert mesh.cycle_through("marketing") is None
    with pytest.raises(ValueError, match="domains depend on each other in a cycle: "):
        mesh.run_order()
    assert set(mesh.depths) == {"sales", "supply", "finance", "marketing"}


def test_malformed_yaml_names_file_and_line(sales_copy):
    path = sales_copy / "domain.yaml"
    edit(path, "team:\n", "team: [\n")
    # The flow sequence opened on the team line runs on until the parser meets a second key.
    opened, found = line_of(path, "team: ["), line_of(path, "  email: sales-data@mesh.example")
    assert error_of(sales_copy) == (
        f"{path}:{found}: <document>: malformed YAML: while parsing a flow sequence at line {opened}: "
        f"did not find expected ',' or ']' at line {found}"
    )


def test_missing_field_names_its_path_and_line(sales_copy):
    contract = sales_copy / "products" / "orders" / "orders.odcs.yaml"
    edit(contract, "    physicalType: BIGINT\n", "")
    # The line of the mapping the field is missing from.
    assert error_of(sales_copy) == f"{contract}:{line_of(contract, '  - name: order_key')}: schema[0].properties[0].physicalType: required field is missing"


def test_wrong_type_is_reported_with_expected_type(sales_copy):
    edit(sales_copy / "products" / "orders" / "orders.odcs.yaml", "    required: true\n", "    required: 'yes'\n")
    message = error_of(sales_copy)
    assert "schema[0].properties[0].required: 'yes' is not of type 'boolean'" in message


def test_misspelled_nested_contract_field_is_an_error(sales_copy):
    contract = sales_copy / "products" / "orders" / "orders.odcs.yaml"
    edit(contract, "    physicalType: BIGINT\n", "    physicalTyp: BIGINT\n")
    message = error_of(sales_copy)
    line = line_of(contract, "    physicalTyp: BIGINT")
    assert message == f"{contract}:{line}: schema[0].properties[0].physicalTyp: unknown field 'physicalTyp' (not in ODCS v3.1.0): did you mean 'physicalType'?"


def test_misspelled_descriptor_field_is_an_error(sales_copy):
    descriptor = sales_copy / "products" / "orders" / "product.odps.yaml"
    edit(descriptor, "  purpose:", "  purpse:")
    assert "description.purpse: unknown field (not in ODPS v1.0.0): did you mean 'purpose'?" in error_of(sales_copy)


def test_unsafe_name_is_refused(sales_copy):
    edit(sales_copy / "products" / "orders" / "orders.odcs.yaml", "  physicalName: orders\n", "  physicalName: orders; drop table x\n")
    assert "schema[0].physicalName: 'orders; drop table x' is not a safe name" in error_of(sales_copy)


def test_dangling_contract_reference(sales_copy):
    edit(sales_copy / "products" / "orders" / "product.odps.yaml", "contractId: urn:mesh:contract:sales:orders", "contractId: urn:mesh:contract:sales:nope")
    assert "outputPorts[0].contractId: names contract 'urn:mesh:contract:sales:nope'" in error_of(sales_copy)


def _contract_variants():
    """Every contract of the repository, and each bent in a way the JSON schema forbids."""
    import copy

    from platform_lib.descriptors.standards import _jsonable

    def bent(data, change):
        data = copy.deepcopy(data)
        change(data)
        return data

    bends = {
        "unknown top-level field": lambda d: d.update(contractVersion="1"),
        "unknown schema field": lambda d: d["schema"][0].update(colums=[]),
        "unknown property field": lambda d: d["schema"][0]["properties"][0].update(nmae="x"),
        "unknown quality field": lambda d: d["schema"][0].setdefault("quality", []).append({"type": "library", "metric": "rowCount", "mustBe": 1, "bogus": 1}),
        "wrong type": lambda d: d.update(version=3),
        "missing required field": lambda d: d.pop("id"),
        "value outside its enum": lambda d: d.update(status=["active"]),
        "server without its required location": lambda d: d.update(servers=[{"server": "x", "type": "s3"}]),
    }
    for path in sorted(DOMAINS_DIR.glob("*/products/*/*.odcs.yaml")):
        # As published: with what its folder says filled in.
        data = _jsonable(load_contract(path).data)
        yield f"{path.parent.name}/{path.name}", data
        for name, change in bends.items():
            yield f"{path.name}: {name}", bent(data, change)


def test_the_fast_odcs_validator_agrees_with_jsonschema():
    """jsonschema_rs decides whether a contract is valid; jsonschema reports why not. Both must
    give every document the same verdict, on valid contracts and on broken ones."""
    from platform_lib.descriptors.standards import _odcs_fast_validator, _odcs_validator, odcs_schema_for

    verdicts = {name: (_odcs_fast_validator(odcs_schema_for(data)).is_valid(data), _odcs_validator(odcs_schema_for(data)).is_valid(data))
                for name, data in _contract_variants()}
    assert {name: v for name, v in verdicts.items() if v[0] != v[1]} == {}
    assert sum(fast for fast, _ in verdicts.values()) == len(list(DOMAINS_DIR.glob("*/products/*/*.odcs.yaml")))
