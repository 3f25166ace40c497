"""What `mesh run` tells a domain team: a numbered line per domain as it finishes, under it a line per
port of each product run, the failing checks with what they observed, and the first cause of a
failure; Dagster's and dbt's own logs only with --verbose (the run keeps them for the UI).
`--product URN` runs only that product's assets."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from platform_lib.mesh import load_mesh
from tests.conftest import mesh_env
from tests.support.mesh_copy import edit, mesh_copy
from tests.support.processes import mesh

MESH = load_mesh()
HEADER = re.compile(r"^\[(\d+)/(\d+)\] (\w+)\s+(ok|FAILED|SKIPPED)\b(.*)$", re.MULTILINE)
PORT = re.compile(r"^    (\w+)\s+(\w+)\s+(published|refused|held back|not run|not published)\s+(.*)$")
DAGSTER_LOG = re.compile(r" - dagster - (DEBUG|INFO) - |^INFO:dagster", re.MULTILINE)


def block(stderr: str, domain: str) -> list[str]:
    """The lines under the domain's numbered line, up to the next numbered line."""
    lines = stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if HEADER.match(line) and HEADER.match(line)[3] == domain)
    rest = lines[start + 1:]
    return rest[:next((i for i, line in enumerate(rest) if not line.startswith(" ")), len(rest))]


def ports(lines: list[str]) -> dict[str, tuple[str, str, str]]:
    """Port -> (product, outcome, the rest of its line)."""
    return {m[2]: (m[1], m[3], m[4]) for m in map(PORT.match, lines) if m}


def published(env) -> set[str]:
    return {p["asset_key"] for p in json.loads(mesh("ports", "--json", env=env).stdout)}


def fresh_home(seeded_env, tmp: Path, root: Path | None = None) -> dict:
    """A MESH_HOME of its own with the session's seeded sources (and a mesh copy as MESH_ROOT)."""
    shutil.copytree(Path(seeded_env["MESH_HOME"]) / "sources", tmp / "home" / "sources")
    env = mesh_env(tmp / "home")
    return {**env, "MESH_ROOT": str(root)} if root else env


def test_each_domain_is_numbered_as_it_finishes_with_a_line_per_port(mesh_run):
    log = mesh_run["MESH_RUN_LOG"]
    headers = HEADER.findall(log)
    assert [(int(i), int(n)) for i, n, *_ in headers] == [(i, 6) for i in range(1, 7)], log[-3000:]
    assert {name: outcome for _, _, name, outcome, _ in headers} == dict.fromkeys([*(d.name for d in MESH.domains), "governance"], "ok")
    assert headers[-1][2] == "governance"
    for domain in MESH.domains:
        lines = block(log, domain.name)
        expected = {port.asset_key[1]: port.product for port in domain.output_ports}
        assert {port: product for port, (product, _, _) in ports(lines).items()} == expected, lines
        for port, (_, outcome, rest) in ports(lines).items():
            assert outcome == "published" and re.fullmatch(r"\d+ rows, \d+ checks passed", rest), (port, rest)
    assert not DAGSTER_LOG.search(log), log[:3000]


@pytest.fixture(scope="module")
def broken(seeded_env, tmp_path_factory):
    """One run of three broken domains: two products of sales (nulls in a required column, a value
    out of its contract), one of customers (one of its two ports' contracts refuses a value) and supply, whole
    (a dbt model reading a column that does not exist)."""
    tmp = tmp_path_factory.mktemp("broken")
    root = mesh_copy(tmp)
    models = root / "dbt_projects"
    # A null where the contract requires a value: dbt's model contract (names and types) lets it
    # through, the port's schema check does not.
    edit(models / "sales" / "models" / "products" / "pricing_summary.sql", "line_status as l_linestatus",
         "case when line_status = 'F' then null else line_status end as l_linestatus")
    edit(models / "sales" / "models" / "products" / "orders.sql", "select * from",
         "select * replace (case when order_status = 'F' then 'X' else order_status end as order_status) from")
    edit(root / "domains" / "customers" / "products" / "customer_profiles" / "customer_profiles_full.odcs.yaml", "        - MACHINERY\n", "")
    edit(models / "supply" / "models" / "products" / "parts.sql", "select * from", "select no_such_column, * from")
    env = fresh_home(seeded_env, tmp, root)
    result = mesh("run", "--domain", "supply", "--product", "urn:mesh:product:customers:customer_profiles",
                  "--product", "urn:mesh:product:sales:orders", "--product", "urn:mesh:product:sales:pricing_summary",
                  env=env, check=False)
    return env, result


def test_a_refused_port_shows_its_first_cause_not_the_checks_it_stopped(broken):
    _, result = broken
    assert result.returncode == 1
    lines = block(result.stderr, "sales")
    assert ports(lines)["pricing_summary_v1"][:2] == ("pricing_summary", "refused"), lines
    # The schema check failed, so the rules did not run: the null values are the one cause given.
    assert any(re.fullmatch(r"        pricing_summary_v1 schema: l_linestatus: \d+ null value\(s\) in a required column", line) for line in lines), lines
    assert not [line for line in lines if re.search(r"primary_key|four_status_groups|not_empty", line)], lines
    # Every cause is on a port's line: the ports step's own account of them is not repeated.
    assert all(PORT.match(line) or line.startswith(" " * 8) for line in lines), lines


def test_a_failing_check_shows_what_it_observed(broken):
    _, result = broken
    lines = block(result.stderr, "sales")
    assert ports(lines)["orders_v1"][:2] == ("orders", "refused")
    (check,) = [line for line in lines if "order_status_values" in line]
    assert re.fullmatch(r"        orders_v1 order_status_values: observed (\d+) \(\1 unexpected rows, e\.g\. X\); "
                        r"expected: order_status is one of F, O, P\.", check), check


def test_a_port_held_back_by_its_refused_sibling_says_so(broken):
    _, result = broken
    found = ports(block(result.stderr, "customers"))
    assert found["customer_profiles_full_v1"][:2] == ("customer_profiles", "refused")
    product, outcome, rest = found["customer_profiles_v1"]
    assert (product, outcome) == ("customer_profiles", "held back")
    assert re.fullmatch(r"sibling port customers/customer_profiles_full_v1 was refused; \d+ checks passed", rest), rest


def test_a_dbt_error_names_the_model_and_stops_its_products_ports_alone(broken):
    _, result = broken
    lines = block(result.stderr, "supply")
    cause = "\n".join(line for line in lines if not PORT.match(line))
    assert cause.startswith("    supply_dbt_models: ") and "model parts" in cause and "no_such_column" in cause, lines
    found = ports(lines)
    assert set(found) == {port.asset_key[1] for port in MESH.domain("supply").output_ports}
    # The other products of the domain do not read parts: they publish.
    assert {port: outcome for port, (_, outcome, _) in found.items()} == {"parts_v1": "not run", "suppliers_v1": "published", "part_supply_v1": "published"}


def test_only_the_products_asked_for_run(broken):
    env, result = broken
    headers = {name: (n, outcome) for _, n, name, outcome, _ in HEADER.findall(result.stderr)}
    assert headers == {"sales": ("4", "FAILED"), "customers": ("4", "FAILED"), "supply": ("4", "FAILED"), "governance": ("4", "ok")}
    # sales' line_items and customers' geography neither ran nor were reported; of what ran, only
    # supply's products that do not read its broken model were published.
    assert set(ports(block(result.stderr, "sales"))) == {"orders_v1", "pricing_summary_v1"}
    assert set(ports(block(result.stderr, "customers"))) == {"customer_profiles_v1", "customer_profiles_full_v1"}
    assert published(env) == {"supply/suppliers_v1", "supply/part_supply_v1"}


def test_dagster_and_dbt_logs_are_kept_for_the_ui_not_printed(broken):
    env, result = broken
    assert not DAGSTER_LOG.search(result.stderr) and "Running with dbt" not in result.stdout, result.stderr[:3000]
    (run_id,) = re.findall(r"^\[\d+/\d+\] sales\s+FAILED\s.*\brun (\S+)$", result.stderr, re.MULTILINE)
    logs = Path(env["MESH_HOME"]) / "dagster" / "storage" / run_id / "compute_logs"
    assert "Running with dbt" in "".join(p.read_text() for p in logs.glob("*.out"))


def test_verbose_prints_dagsters_log_stream(seeded_env, tmp_path):
    env = fresh_home(seeded_env, tmp_path)
    result = mesh("run", "--verbose", "--product", "urn:mesh:product:customers:geography", env=env)
    assert DAGSTER_LOG.search(result.stderr)
    assert {name: outcome for _, _, name, outcome, _ in HEADER.findall(result.stderr)} == {"customers": "ok", "governance": "ok"}
    assert {port: outcome for port, (_, outcome, _) in ports(block(result.stderr, "customers")).items()} == {
        "geography_v1": "published", "geography_v2": "published"}
    assert published(env) == {"customers/geography_v1", "customers/geography_v2"}


def test_an_unknown_product_is_refused_naming_the_known_ones(seeded_env):
    result = mesh("run", "--product", "urn:mesh:product:sales:ordres", env=seeded_env, check=False)
    known = sorted(product.id for domain in MESH.domains for product in domain.products)
    assert result.returncode == 1
    assert result.stderr.strip() == f"mesh run: unknown product urn:mesh:product:sales:ordres; known: {', '.join(known)}"


def test_an_unexpected_error_shows_its_own_message_not_dagsters_wrapper(seeded_env, tmp_path):
    env = fresh_home(seeded_env, tmp_path)
    warehouse = Path(env["MESH_HOME"]) / "warehouse" / "customers.duckdb"
    warehouse.parent.mkdir(parents=True)
    warehouse.write_text("not a database\n")
    result = mesh("run", "--product", "urn:mesh:product:customers:geography", env=env, check=False)
    assert result.returncode == 1
    cause = [line for line in block(result.stderr, "customers") if not PORT.match(line)]
    assert cause and cause[0].startswith("    customers_dbt_models: "), result.stderr
    assert "DagsterExecutionStepExecutionError" not in "\n".join(cause), cause
    assert str(warehouse) in cause[0] and "not a valid DuckDB database file" in cause[0], cause
