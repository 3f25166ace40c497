"""One typed model of what the descriptors say, each object with its place: a policy reports a
problem on a column, an SLA or an input port at the line the loader read it from, and never parses
the file again (the files are deleted before the policies run)."""

from __future__ import annotations

import ast
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from platform_lib.descriptors.contract import load_contract
from platform_lib.descriptors.domain import load_domain
from platform_lib.governance.evaluate import domain_policies
from platform_lib.governance.policies import pii_masking, port_access, port_promises
from platform_lib.governance.policy import Subject
from platform_lib.mesh import Mesh
from platform_lib.settings import DOMAINS_DIR
from tests.support.mesh_copy import edit, line_of
from tests.support.processes import REPO

pytestmark = pytest.mark.unit


@pytest.fixture
def domains(tmp_path) -> Path:
    folder = tmp_path / "domains"
    shutil.copytree(DOMAINS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def profiles(domains: Path) -> Path:
    return domains / "customers" / "products" / "customer_profiles" / "customer_profiles.odcs.yaml"


def judged_without_its_files(domains: Path, policy) -> list:
    """customers, loaded, then judged by `policy` once every descriptor file is gone."""
    customers = load_domain(domains / "customers")
    shutil.rmtree(domains)
    return policy.run(Subject(Mesh((customers,)), customers))


def test_a_column_problem_is_at_the_columns_line_after_its_file_is_gone(domains):
    contract = profiles(domains)
    edit(contract, "    classification: pii\n    customProperties:\n    - property: masking\n      value: hash\n", "    classification: pii\n")
    line = line_of(contract, "    classification: pii")  # the name column's, the first pii one
    (problem,) = judged_without_its_files(domains, pii_masking)
    assert (problem.file, problem.line, problem.field) == (contract, line, "schema[0].properties[1].classification")
    assert problem.message.startswith("pii column name is published unmasked")


def test_an_sla_keeps_its_line_when_the_file_is_rewritten(domains):
    path = profiles(domains)
    line = line_of(path, "  value: 4")  # latency's
    contract = load_contract(path)
    path.write_text("# rewritten\n" * 20 + path.read_text())
    latency = contract.sla("latency")
    assert (latency.property, latency.value, latency.unit, latency.duration) == ("latency", 4, "h", timedelta(hours=4))
    problem = latency.problem("too slow", "value")
    assert (problem.line, problem.field) == (line, "slaProperties[1].value")


def test_a_contract_without_rules_is_reported_where_its_table_is(domains):
    path = profiles(domains)
    data = yaml.safe_load(path.read_text())
    for owner in (data["schema"][0], *data["schema"][0]["properties"]):
        owner.pop("quality", None)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    table = line_of(path, "- name: customer_profiles")
    (problem,) = judged_without_its_files(domains, port_promises)
    assert (problem.file, problem.line, problem.field) == (path, table, "schema[0].quality")
    assert problem.message.startswith("no quality rule")


def test_an_input_port_problem_is_at_the_ports_line_after_its_file_is_gone(domains):
    descriptor = domains / "marketing" / "products" / "customer_order_distribution" / "product.odps.yaml"
    edit(descriptor, "    sales_orders: mesh_reader", "    sales_orders: sales_internal")
    line = line_of(descriptor, "- contractId: urn:mesh:contract:sales:orders")
    mesh = Mesh(tuple(load_domain(domains / name) for name in ("sales", "customers", "marketing")))
    shutil.rmtree(domains)
    (problem,) = port_access.run(Subject(mesh, mesh.domain("marketing")))
    assert (problem.file, problem.line, problem.field) == (descriptor, line, "inputPorts[1].name")
    assert problem.message.startswith("input port sales_orders reads with role sales_internal, which urn:mesh:contract:sales:orders does not offer")


def test_a_domains_own_policy_reports_through_finding_on_a_loaded_column(domains):
    contract = domains / "finance" / "products" / "revenue_by_nation" / "revenue_by_nation.odcs.yaml"
    edit(contract, "physicalType: DECIMAL(38,4)", "physicalType: DOUBLE")
    line = line_of(contract, "    physicalType: DOUBLE")
    finance = load_domain(domains / "finance")
    (money,) = [p for p in domain_policies(finance) if p.id == "finance-decimal-money"]
    shutil.rmtree(domains)
    (problem,) = money.run(Subject(Mesh((finance,)), finance))
    assert (problem.file, problem.line, problem.policy) == (contract, line, "finance-decimal-money")
    assert problem.field.endswith(".physicalType")


def test_the_primary_key_is_in_primary_key_position_order(domains):
    path = domains / "sales" / "products" / "line_items" / "line_items.odcs.yaml"
    data = yaml.safe_load(path.read_text())
    keys = sorted((p for p in data["schema"][0]["properties"] if p.get("primaryKey")), key=lambda p: p["primaryKeyPosition"])
    assert len(keys) > 1, "line_items has a composite key"
    for position, prop in enumerate(reversed(keys), start=1):
        prop["primaryKeyPosition"] = position
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert load_contract(path).primary_key == tuple(p["name"] for p in reversed(keys))


def test_objects_compare_by_what_they_say_not_where(domains):
    path = profiles(domains)
    first = load_contract(path)
    path.write_text("# moved down\n" + path.read_text())
    second = load_contract(path)
    assert first.columns == second.columns and first.slas == second.slas
    assert first.columns[0].problem("x", "name").line + 1 == second.columns[0].problem("x", "name").line
    assert "place" not in repr(first.columns[0])


# The modules that judge what was loaded: the policies, how they run, and the domains' own.
JUDGES = [
    *(REPO / "platform_lib" / "governance" / name for name in ("policies.py", "policy.py", "evaluate.py", "scorecard.py")),
    REPO / "platform_lib" / "descriptors" / "producers.py",
    REPO / "platform_lib" / "dbt" / "manifest.py",
    *sorted((REPO / "domains").glob("*/policies.py")),
]


def parses_yaml(path: Path) -> bool:
    return any(isinstance(node, ast.Name | ast.alias | ast.Attribute) and "load_yaml" in (getattr(node, n, None) for n in ("id", "name", "attr"))
               for node in ast.walk(ast.parse(path.read_text())))


@pytest.mark.parametrize("path", JUDGES, ids=lambda p: str(p.relative_to(REPO)))
def test_a_policy_module_never_parses_a_descriptor(path):
    assert not parses_yaml(path), f"{path.relative_to(REPO)} parses a file the loader read: ask the loaded object for its problem"


def test_a_parse_in_a_policy_module_is_found(tmp_path):
    for code in ("from platform_lib.descriptors.yaml_file import load_yaml\n", "import platform_lib.descriptors.yaml_file as y\ny.load_yaml(p)\n"):
        (tmp_path / "policies.py").write_text(code)
        assert parses_yaml(tmp_path / "policies.py"), code


@pytest.mark.unit
def test_a_masked_column_is_not_held_to_the_models_type():
    """The port publishes a masked column as its contract types it (a hash is VARCHAR, a redacted
    column a typed null), whatever type the model gives it; an unmasked one must match."""
    from platform_lib.cli.check import _model_problems

    port = next(p for p in load_domain(DOMAINS_DIR / "supply").output_ports if p.name == "suppliers")
    sql = REPO / "dbt_projects" / "supply" / "models" / "products" / "suppliers.sql"
    made = [(c.name, "BIGINT" if c.masking else c.physical_type) for c in port.contract.columns]
    assert _model_problems(port, made, sql) == []
    unmasked = next(c for c in port.contract.columns if not c.masking)
    made = [(c.name, "BOOLEAN" if c is unmasked else c.physical_type) for c in port.contract.columns]
    (problem,) = _model_problems(port, made, sql)
    assert f"makes {unmasked.name} BOOLEAN ({sql}" in problem.message and problem.field.endswith("physicalType")
