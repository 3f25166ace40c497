"""Every policy both ways: a fixture with one violation is reported exactly once with the policy's id,
and the repository (the compliant mesh) has none. Then domain extensions, access denial at check
and at location load, and `mesh check --against` naming the consumers a breaking change hits."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from platform_lib.cli.check import check
from platform_lib.descriptors.errors import ERROR, WARNING
from platform_lib.governance.policies import GLOBAL_POLICIES
from tests.support.manifest import add_source
from tests.support.mesh_copy import edit, mesh_copy
from tests.support.processes import BIN, REPO, mesh


@pytest.fixture(autouse=True)
def no_built_models(tmp_path, monkeypatch):
    # Contract-vs-model checks type operational sources by $MESH_HOME's landed files: keep a developer's out of the picture.
    monkeypatch.setenv("MESH_HOME", str(tmp_path / "home"))


@pytest.fixture
def root(tmp_path):
    return mesh_copy(tmp_path)


def product(root, domain, name):
    return root / "domains" / domain / "products" / name / "product.odps.yaml"


def contract(root, domain, name, port=None):
    return root / "domains" / domain / "products" / name / f"{port or name}.odcs.yaml"


def edit_yaml(path, change):
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def column(data, name):
    return next(p for p in data["schema"][0]["properties"] if p["name"] == name)


def input_roles(data):
    return next(c for c in data["customProperties"] if c["property"] == "inputRoles")["value"]


def grantees(data, role):
    entry = next(r for r in data["roles"] if r["role"] == role)
    return next(c for c in entry["customProperties"] if c["property"] == "grantedTo")["value"]


def add_cycle(root):
    """Sales starts reading a finance port that itself reads sales."""
    edit_yaml(product(root, "sales", "orders"), lambda d: d.update(
        inputPorts=[{"name": "finance_shipping_priority", "version": "1.0.0", "contractId": "urn:mesh:contract:finance:shipping_priority"}],
        customProperties=[{"property": "inputRoles", "value": {"finance_shipping_priority": "mesh_reader"}}],
    ))
    add_source(root, "sales", "finance__shipping_priority_v1", ["finance", "shipping_priority_v1"])


def doubled_revenue(root):
    """Finance's revenue as floating point, in its contract and its model alike."""
    edit(contract(root, "finance", "revenue_by_nation"), "physicalType: DECIMAL(38,4)", "physicalType: DOUBLE")
    edit(root / "dbt_projects" / "finance" / "models" / "products" / "revenue_by_nation.sql", "line_items.discount)) as revenue", "line_items.discount))::double as revenue")


VIOLATIONS = {
    # Support is domain.yaml's, unless a product states its own: orders stops stating it, its domain has none.
    "product-ownership": lambda r: [edit_yaml(path, lambda d: d.pop("support")) for path in (r / "domains" / "sales" / "domain.yaml", product(r, "sales", "orders"))],
    "port-promises": lambda r: edit_yaml(contract(r, "sales", "orders"), lambda d: d.pop("slaProperties")),
    "naming": lambda r: edit(product(r, "sales", "orders"), "id: urn:mesh:product:sales:orders", "id: urn:mesh:product:sales:order_book"),
    "pii-masking": lambda r: edit_yaml(contract(r, "customers", "customer_profiles"), lambda d: column(d, "name").pop("customProperties")),
    # finance's Q10 copies customer_profiles_full's name, pii, into c_name.
    "classification-lineage": lambda r: edit_yaml(contract(r, "finance", "returned_item_report"), lambda d: column(d, "c_name").update(classification="internal")),
    "port-binding": lambda r: add_source(r, "finance", "sales_internal_orders", ["sales", "stg_orders"]),
    "port-access": lambda r: edit_yaml(product(r, "marketing", "customer_order_distribution"), lambda d: input_roles(d).update(customers_customer_profiles="customer_pii_reader")),
    "known-grantees": lambda r: edit_yaml(contract(r, "customers", "customer_profiles", "customer_profiles_full"),
                                          lambda d: grantees(d, "customer_pii_reader").append("ghost")),
    "acyclic-domains": add_cycle,
    "deprecation-window": lambda r: edit_yaml(contract(r, "customers", "geography", "geography.v1"), lambda d: d.pop("customProperties")),
    "lifecycle": lambda r: edit(contract(r, "supply", "suppliers"), "status: active", "status: draft"),
    # mesh check compiles the project as written: the model file itself reads a file.
    "dbt-file-access": lambda r: (r / "dbt_projects" / "marketing" / "models" / "peek.sql").write_text("select * from read_csv('/etc/passwd')\n"),
    # A domain's own policy (domains/finance/policies.py) is held to the same standard.
    "finance-decimal-money": doubled_revenue,
}


def findings(root, severity=ERROR):
    return [p for p in check(root) if p.severity == severity]


def test_every_global_policy_has_a_violating_fixture():
    errors = {p.id for p in GLOBAL_POLICIES if p.severity == ERROR}
    assert errors <= set(VIOLATIONS), errors - set(VIOLATIONS)


def test_the_repository_complies_with_every_policy():
    assert findings(REPO) == []
    # The one warning is the worked v1 -> v2 migration: finance's Q10 still reads geography v1.
    (warning,) = findings(REPO, WARNING)
    assert warning.policy == "deprecated-consumers" and "finance.returned_item_report" in warning.message


@pytest.mark.parametrize("policy_id", sorted(VIOLATIONS))
def test_one_violation_is_reported_once_with_its_policy(root, policy_id):
    VIOLATIONS[policy_id](root)
    assert [(p.policy, p.severity) for p in findings(root)] == [(policy_id, ERROR)], [str(p) for p in findings(root)]


def test_a_grant_to_no_domain_names_its_line_and_the_domain_meant_and_is_not_rendered(root, tmp_path):
    """Issue 19: a grant to `ghost` passed mesh check and was rendered into the storage's rules."""
    path = contract(root, "customers", "customer_profiles", "customer_profiles_full")
    edit(path, "    value:\n    - finance\n", "    value:\n    - finance\n    - financ\n")
    (problem,) = findings(root)
    lines = path.read_text().splitlines()
    line = lines.index("    - financ", lines.index("- role: customer_pii_reader")) + 1
    assert (problem.policy, problem.file, problem.line) == ("known-grantees", path, line), str(problem)
    assert "role customer_pii_reader is granted to financ, which is no domain of the mesh: did you mean finance?" in problem.message
    rendered = subprocess.run([str(BIN / "mesh"), "access", "render", "--out", str(tmp_path / "access")], capture_output=True, text=True,
                              env={**os.environ, "MESH_ROOT": str(root)}, timeout=120)
    assert rendered.returncode == 1 and "granted to financ" in rendered.stderr and not (tmp_path / "access").exists(), rendered.stderr


def test_a_deprecated_port_nobody_reads_is_not_reported(root, tmp_path):
    """finance's Q10 moves to geography v2 as a team would: its input port and its SQL."""
    edit(product(root, "finance", "returned_item_report"), "- name: customers_geography\n  version: 1.0.0", "- name: customers_geography\n  version: 2.0.0")
    # The dbt sources follow the descriptor (mesh prepare writes them): geography, read at one major
    # again, keeps its plain name, which Q5 now reads too.
    models = root / "dbt_projects" / "finance" / "models" / "products"
    q10 = models / "returned_item_report.sql"
    q10.write_text(q10.read_text().replace("geography.nation_name", "geography.nation"))
    edit(models / "revenue_by_nation.sql", "'geography_v2'", "'geography'")
    mesh("prepare", env={**os.environ, "MESH_ROOT": str(root), "MESH_HOME": str(tmp_path / "home")})
    assert findings(root) == [] and findings(root, WARNING) == []


def domain_yaml_governance(root, domain, severities):
    with open(root / "domains" / domain / "domain.yaml", "a") as f:
        f.write(yaml.safe_dump({"governance": {"severities": severities}}))


def test_a_domain_may_raise_a_severity(root):
    domain_yaml_governance(root, "customers", {"deprecated-consumers": "error"})
    (finding,) = findings(root)
    assert finding.policy == "deprecated-consumers" and "geography v1 is deprecated" in finding.message


def test_a_domain_cannot_lower_or_waive_a_global_policy(root):
    domain_yaml_governance(root, "sales", {"naming": "warning"})
    (finding,) = findings(root)
    assert finding.field == "governance.severities.naming" and "never lower or waive" in finding.message


def test_a_domain_cannot_redefine_a_global_policy(root):
    (root / "domains" / "sales" / "policies.py").write_text(
        "from platform_lib.governance import policy\n\n"
        "@policy('naming', rationale='mine')\ndef naming(s):\n    return []\n\nPOLICIES = [naming]\n"
    )
    (finding,) = findings(root)
    assert finding.file.name == "policies.py" and "cannot redefine" in finding.message


def bind_marketing_to_full_profiles(root):
    """Marketing's Q22 reads the restricted port it was never granted."""
    path = product(root, "marketing", "global_sales_opportunity")
    edit(path, "- contractId: urn:mesh:contract:customers:customer_profiles\n", "- contractId: urn:mesh:contract:customers:customer_profiles_full\n")
    edit(path, "    customers_customer_profiles: mesh_reader", "    customers_customer_profiles_full: customer_pii_reader")
    add_source(root, "marketing", "customers__customer_profiles_full_v1", ["customers", "customer_profiles_full_v1"])


def test_binding_a_port_not_granted_names_the_role_and_the_owner(root):
    bind_marketing_to_full_profiles(root)
    (finding,) = findings(root)
    assert finding.policy == "port-access" and finding.file.parent.name == "global_sales_opportunity"
    assert "domain marketing is not granted role customer_pii_reader" in finding.message
    assert "request role customer_pii_reader from the customers domain (customer-data@mesh.example, #customers-data)" in finding.message


def test_binding_a_port_not_granted_fails_that_code_location_only(root, mesh_run):
    """At load a location judges its input ports against the grants its producers published."""
    bind_marketing_to_full_profiles(root)
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", str(root / "workspace.yaml")],
        cwd=root, env=mesh_run, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "[port-access] domain marketing is not granted role customer_pii_reader" in output, output[-3000:]
    for location in ("sales", "customers", "supply", "finance", "governance"):
        assert f"Validation successful for code location {location}" in output, output[-3000:]


def git(root, *args):
    subprocess.run(["git", "-c", "user.email=t@mesh", "-c", "user.name=t", *args], cwd=root, check=True, capture_output=True)


def test_a_breaking_change_without_a_major_bump_names_the_affected_consumers(root):
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "baseline")
    edit_yaml(contract(root, "sales", "orders"), lambda d: (
        d["schema"][0]["properties"].remove(column(d, "order_date")), d.update(version="1.1.0")))
    result = mesh("check", str(root), "--against", "HEAD", env=dict(os.environ), check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "[contract-evolution]" in line]
    assert "orders.odcs.yaml" in line and "column order_date removed" in line and "new major version" in line
    # Finance's Q3, Q5 and Q10 filter on the order date; marketing reads orders but not that column.
    assert line.endswith("Affected consumers of order_date: finance.shipping_priority_v1.o_orderdate (copied), finance.returned_item_report_v1 "
                         "(rows filtered), finance.revenue_by_nation_v1 (rows filtered), finance.shipping_priority_v1 (rows filtered)"), line
    assert "marketing." not in line
