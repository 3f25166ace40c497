"""`mesh check`: 0 on the repository; on each broken fixture, non-zero with one clear line per problem."""

from __future__ import annotations

import json
import os
import subprocess
from types import SimpleNamespace

import pytest

from platform_lib.descriptors.contract import load_contract
from platform_lib.governance.against import affected_consumers
from platform_lib.governance.evolution import Change
from platform_lib.lineage.columns import Dep
from platform_lib.lineage.graph import ColumnGraph
from platform_lib.mesh import load_mesh
from tests.support.mesh_copy import edit, line_of, mesh_copy
from tests.support.processes import BIN, REPO, mesh


def check(root, *flags) -> tuple[int, list[str]]:
    """(exit code, the violations): warnings and the summary line are left out."""
    result = mesh("check", str(root), *flags, env=dict(os.environ), check=False)
    assert "Traceback" not in result.stdout + result.stderr
    if "--json" in flags:
        return result.returncode, [json.dumps(p) for p in json.loads(result.stdout) if p["severity"] == "error"]
    lines = result.stdout.strip().splitlines()
    return result.returncode, [line for line in lines if " warning] " not in line and not line.startswith("mesh check: ")]


def test_repository_is_clean():
    result = mesh("check", str(REPO), env=dict(os.environ), check=False)
    lines = result.stdout.strip().splitlines()
    # The one warning is the worked migration example: finance still reads geography v1.
    assert result.returncode == 0 and lines[-1] == "mesh check: 0 violations, 1 warning", lines
    assert len(lines) == 2 and "[deprecated-consumers warning] geography v1 is deprecated until 2027-03-31" in lines[0]


@pytest.fixture
def root(tmp_path):
    return mesh_copy(tmp_path)


def contract(root, domain="sales", product="orders"):
    return root / "domains" / domain / "products" / product / f"{product}.odcs.yaml"


def descriptor(root, domain="sales", product="orders"):
    return root / "domains" / domain / "products" / product / "product.odps.yaml"


def model(root, domain, name):
    return root / "dbt_projects" / domain / "models" / "products" / f"{name}.sql"


BREAKS = {
    "malformed YAML": (lambda r: edit(contract(r), "schema:\n", "schema: [\n"), "orders.odcs.yaml:", "malformed YAML"),
    "misspelled contract field": (lambda r: edit(contract(r), "    physicalType: BIGINT\n", "    phyiscalType: BIGINT\n"), "schema[0].properties[0].phyiscalType", "unknown field 'phyiscalType'"),
    "misspelled descriptor field": (lambda r: edit(descriptor(r), "outputPorts:", "outputPort:"), "outputPort", "unknown field"),
    "wrong type": (lambda r: edit(contract(r), "    unique: true\n", "    unique: 1\n"), "schema[0].properties[0].unique", "is not of type 'boolean'"),
    "missing required field": (lambda r: edit(contract(r), "status: active\n", ""), "orders.odcs.yaml:1", "'status' is a required property"),
    "dangling contract reference": (lambda r: edit(descriptor(r, "finance", "shipping_priority"), "contractId: urn:mesh:contract:sales:orders", "contractId: urn:mesh:contract:sales:ordres"), "inputPorts[1].contractId", "no output port in the mesh publishes contract 'urn:mesh:contract:sales:ordres'"),
    "unknown dbt model": (lambda r: edit(contract(r), "  physicalName: orders\n", "  physicalName: orderz\n"), "schema[0].physicalName", "no dbt model 'orderz'"),
    # Judged from the model's SQL over its inputs as promised: no build, no seeded data.
    "schema drift in a model's SQL": (lambda r: edit(model(r, "finance", "shipping_priority"), "orders.order_date as o_orderdate", "cast(orders.order_date as varchar) as o_orderdate"),
                                      "shipping_priority.odcs.yaml:", "the contract says DATE: cast it in the SQL (cast(... as DATE) as o_orderdate)"),
    "a model reading a column its input does not promise": (lambda r: edit(model(r, "finance", "shipping_priority"), "orders.ship_priority as", "orders.priority as"),
                                                            "schema[0].physicalName", "does not bind over its inputs as they are promised: Binder Error"),
    "unsafe name": (lambda r: edit(contract(r), "- name: order_key\n", "- name: order_key/../x\n"), "schema[0].properties[0].name", "is not a safe name"),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_each_break_is_one_clear_line(root, case):
    breaker, where, what = BREAKS[case]
    breaker(root)
    code, lines = check(root)
    assert code == 1
    matching = [line for line in lines if where in line and what in line]
    assert len(matching) == 1, f"{case}: {lines}"
    assert len(lines) == 1, f"{case}: {lines}"


def test_json_output_names_file_line_and_field(root):
    edit(contract(root), "    physicalType: BIGINT\n", "    phyiscalType: BIGINT\n")
    code, lines = check(root, "--json")
    (problem,) = map(json.loads, lines)
    assert code == 1 and problem["file"].endswith("orders.odcs.yaml") and problem["line"] and problem["field"].endswith("phyiscalType")


def test_usage_error_exits_2(tmp_path):
    assert check(tmp_path)[0] == 2


def test_a_contract_using_every_odcs_section_loads():
    loaded = load_contract(REPO / "tests" / "fixtures" / "full.odcs.yaml")
    assert loaded.model == "orders" and len(loaded.columns) == 3


def test_a_broken_domain_fails_only_its_own_location(root):
    edit(contract(root), "    physicalType: BIGINT\n", "    phyiscalType: BIGINT\n")
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", str(root / "workspace.yaml")],
        cwd=root, env=dict(os.environ), capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "schema[0].properties[0].phyiscalType: unknown field 'phyiscalType' (not in ODCS v3.1.0): did you mean 'physicalType'?" in output
    for location in ("customers", "supply", "finance", "marketing"):
        assert f"Validation successful for code location {location}" in output, output[-3000:]


def test_schema_drift_of_a_source_aligned_model_is_caught_before_a_run(root, seeded_env):
    """Operational sources are typed by their landed files: the drift shows before any build, on
    the contract's line and the model's (issue 22, stumble 4: the SQL's line and a fix were not said)."""
    sql = model(root, "sales", "pricing_summary")
    edit(sql, "count(*) as count_order", "count(*)::integer as count_order")
    result = mesh("check", str(root), env=seeded_env, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (f"pricing_summary.odcs.yaml:71: schema[0].properties[9].physicalType: dbt model pricing_summary makes count_order INTEGER "
            f"({sql}:{line_of(sql, '    count(*)::integer as count_order')}); the contract says BIGINT: cast it in the SQL "
            "(cast(... as BIGINT) as count_order), or, if the model is right, write physicalType: INTEGER here") in result.stdout, result.stdout


def test_judging_a_models_sql_reads_no_file(root, tmp_path):
    """mesh check binds each model's SQL in DuckDB: a model reading a file learns nothing from it there."""
    secret = tmp_path / "secret.csv"
    secret.write_text("secret_column\n42\n")
    edit(model(root, "finance", "shipping_priority"), "select\n", f"select * from read_csv('{secret}') union all by name select\n")
    code, lines = check(root)
    assert code == 1 and not [line for line in lines if "secret_column" in line], lines
    assert [line for line in lines if "dbt model shipping_priority does not bind" in line and "Permission Error" in line], lines


def committed(root):
    """The mesh copy as a git repository, its HEAD the copy as made."""
    for args in (("init", "-q"), ("add", "-A"), ("commit", "-qm", "baseline")):
        subprocess.run(["git", "-c", "user.email=t@mesh", "-c", "user.name=t", *args], cwd=root, check=True, capture_output=True)


DISCOUNT = """  - name: discount
    logicalType: number
    physicalType: DECIMAL(15,2)
    description: Discount rate, 0.00 to 0.10.
    logicalTypeOptions:
      minimum: 0
      maximum: 0.1
    classification: internal
"""


def test_a_breaking_change_names_the_consumer_columns_it_hits(root):
    """--against follows the column lineage as the consumers read the port today: each of finance's
    three products aggregates discount into its revenue, and nothing else of the mesh reads it."""
    committed(root)
    line_items = contract(root, "sales", "line_items")
    edit(line_items, DISCOUNT, "")
    edit(line_items, "version: 1.0.0", "version: 1.1.0")
    code, lines = check(root, "--against", "HEAD")
    (line,) = [line for line in lines if "[contract-evolution]" in line]
    assert code == 1 and line == (
        f"{line_items}:5: version: [contract-evolution] breaking changes need a new major version: 1.0.0 -> 1.1.0 keeps major 1; "
        "publish as 2.0.0 and keep v1 live (status deprecated, endOfSupport) until its consumers moved. Breaking: column discount removed. "
        "Affected consumers of discount: finance.returned_item_report_v1.revenue (aggregated), finance.revenue_by_nation_v1.revenue (aggregated), "
        "finance.shipping_priority_v1.revenue (aggregated)")


@pytest.mark.unit
def test_consumers_are_named_by_column_then_downstream_with_rows_selected_and_lineage_unknown():
    line_items, q5 = ("sales", "line_items_v1"), ("finance", "revenue_by_nation_v1")
    graph = ColumnGraph(
        inputs={(q5, "revenue"): (Dep(line_items, "discount", "aggregated"),),
                (("marketing", "nation_revenue_v1"), "revenue"): (Dep(q5, "revenue", "copied"),)},
        rows={("finance", "shipping_priority_v1"): (Dep(line_items, "discount", "filtered"),)},
        errors={("finance", "returned_item_report_v1"): "sqlglot cannot trace it"})
    read = SimpleNamespace(mesh=load_mesh(REPO / "workspace.yaml"), graph=graph)
    old = load_contract(REPO / "domains/sales/products/line_items/line_items.odcs.yaml")

    def hit(*columns):
        return affected_consumers(read, old, [Change(True, f"schema[0].properties[{c}]", c, f"column {c} changed") for c in columns])

    assert hit("discount") == [
        "Affected consumers of discount: finance.revenue_by_nation_v1.revenue (aggregated), finance.shipping_priority_v1 (rows filtered), "
        "finance.returned_item_report_v1 (column lineage unknown); further downstream: marketing.nation_revenue_v1.revenue (copied)"]
    # A port whose lineage is unknown may read any column.
    assert hit("comment") == ["Affected consumers of comment: finance.returned_item_report_v1 (column lineage unknown)"]
    # A change to the whole port (a grant withdrawn) hits every port reading it.
    assert hit(None) == ["Affected consumers of the port: finance.returned_item_report_v1, finance.revenue_by_nation_v1, finance.shipping_priority_v1"]
    read.graph = ColumnGraph(inputs={}, rows={}, errors={})
    assert hit("comment") == ["No consumer uses the affected columns"]
