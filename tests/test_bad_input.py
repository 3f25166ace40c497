"""Hostile descriptors and contracts are refused quickly and clearly: a DescriptorError (a `mesh check`
line) naming the file, the field and the line, never a hang or a traceback. Unusual but valid ones load.

Each variant is its own test id. Most go through the loaders (a copy of the sales domain, loaded as a
code location loads it); a few go end to end through `mesh check` on a copy of the mesh."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from platform_lib.descriptors.contract import load_contract
from platform_lib.descriptors.domain import load_domain
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.governance.evolution import diff_contracts
from tests.conftest import mesh_env
from tests.support.mesh_copy import mesh_copy
from tests.support.processes import REPO, mesh

SALES = REPO / "domains" / "sales"
CONTRACT, PRODUCT, DOMAIN = "products/orders/orders.odcs.yaml", "products/orders/product.odps.yaml", "domain.yaml"
# Refusing bad input is parsing plus a few checks: far under this on any machine, however loaded.
BOUND_SECONDS = 2.0


class TooSlow(BaseException):
    """A BaseException, so that no `except Exception` in the code under test can swallow it."""


@contextmanager
def within(seconds: float):
    """Fails the test instead of hanging it (SIGALRM interrupts Python code, in the main thread)."""
    def expire(signum, frame):
        raise TooSlow(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def sub(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, f"{old!r} not in the file"
        return text.replace(old, new, 1)
    return edit


def append(extra: str) -> Callable[[str], str]:
    return lambda text: text + extra


def chain(*edits: Callable[[str], str]) -> Callable[[str], str]:
    def edit(text: str) -> str:
        for one in edits:
            text = one(text)
        return text
    return edit


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """Billion laughs: each anchor is `width` aliases of the one before, width**levels values expanded."""
    entries = [f"- property: a0\n  value: &a0 [{', '.join(['lol'] * width)}]"]
    entries += [f"- property: a{i}\n  value: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "customProperties:\n" + "\n".join(entries) + "\n"


@dataclass(frozen=True)
class Hostile:
    file: str
    edit: Callable[[str], str | bytes]
    field: str
    message: str
    # The problem's line: the first line of the written file holding this text, a number, or None (no line).
    line: str | int | None


DEEP = 10_000
# The first value nested deeper than 64: three steps to customProperties[0].value, then 62 lists.
TOO_DEEP = "customProperties[0].value" + "[0]" * 62
HOSTILE = {
    # The document itself: size, shape and YAML.
    "alias bomb": Hostile(CONTRACT, append(alias_bomb()), "customProperties[5].value[0]", "aliases expanded", "&a5"),
    "deep nesting": Hostile(CONTRACT, append(f"customProperties:\n- property: deep\n  value: {'[' * DEEP}{']' * DEEP}\n"),
                            TOO_DEEP, "nested more than 64 deep", "value: [[["),
    "huge file": Hostile(CONTRACT, sub("  purpose: Every", "  purpose: " + "x" * 1_100_000 + " Every"), "", "larger than any descriptor", None),
    "unterminated quote": Hostile(CONTRACT, sub("  purpose: Every customer order", '  purpose: "Every customer order'),
                                  "", "while scanning a quoted scalar at line 10: found unexpected end of stream", '  purpose: "Every'),
    "tab indentation": Hostile(CONTRACT, sub("    physicalType: BIGINT\n", "\tphysicalType: BIGINT\n"), "", "malformed YAML", "\tphysicalType"),
    "duplicate key": Hostile(CONTRACT, sub("status: active\n", "status: active\nstatus: retired\n"), "status", "duplicate key 'status' (first at line 6)", "status: retired"),
    "duplicate key, CRLF": Hostile(CONTRACT, chain(sub("status: active\n", "status: active\nstatus: retired\n"), lambda t: t.replace("\n", "\r\n")),
                                   "status", "duplicate key 'status'", "status: retired"),
    "binary garbage": Hostile(CONTRACT, lambda t: t.encode()[:300] + bytes(range(128, 256)) * 4, "", "not UTF-8 text",
                              (SALES / CONTRACT).read_text()[:300].count("\n") + 1),
    "NUL character": Hostile(CONTRACT, sub("status: active", "status: act\0ive"), "", "control characters are not allowed", "status: act"),
    "non-mapping top level": Hostile(CONTRACT, lambda t: "- just\n- a list\n", "", "expected a mapping at the top of the document", 1),
    "empty file": Hostile(CONTRACT, lambda t: "", "", "expected a mapping at the top of the document", 1),
    "second document": Hostile(CONTRACT, append("---\nkind: DataContract\n"), "", "a descriptor is one YAML document", "---"),
    "undefined alias": Hostile(CONTRACT, sub("status: active", "status: *active"), "status", "alias *active names no anchor", "status: *active"),
    "list as a key": Hostile(CONTRACT, append("? [a, b]\n: c\n"), "", "a key must be a plain value", "? [a, b]"),
    "python tag": Hostile(CONTRACT, sub("status: active", "status: !!python/name:os.system ''"), "status", "tag !!python/name:os.system is not supported", "status: !!python"),
    "impossible date": Hostile(CONTRACT, append("customProperties:\n- property: endOfSupport\n  value: 2027-02-30\n"),
                               "customProperties[0].value", "'2027-02-30' is not a valid timestamp", "value: 2027-02-30"),
    "unreadable number": Hostile(CONTRACT, sub("  value: 30\n", "  value: " + "9" * 5000 + "\n"), "slaProperties[2].value", "is not a valid int", "9999"),
    # Wrong types and missing fields.
    "missing required field": Hostile(CONTRACT, sub("status: active\n", ""), "", "'status' is a required property", 1),
    "schema is a mapping": Hostile(CONTRACT, sub("schema:\n- name: orders\n", "schema:\n  name: orders\n"), "schema", "is not of type 'array'", "schema:"),
    "column name is a number": Hostile(CONTRACT, sub("- name: order_key\n", "- name: 42\n"), "schema[0].properties[0].name", "42 is not of type 'string'", "- name: 42"),
    "flag is a string": Hostile(CONTRACT, sub("    required: true\n", "    required: 'yes'\n"), "schema[0].properties[0].required", "is not of type 'boolean'", "required: 'yes'"),
    "domain team is a string": Hostile(DOMAIN, sub("team:\n  name: sales_data\n  email: sales-data@mesh.example\n", "team: sales_data\n"),
                                       "team", "expected a mapping with name, got str 'sales_data'", "team: sales_data"),
    "domain cron missing": Hostile(DOMAIN, sub('  cron: "0 2 * * *"\n', ""), "schedule.cron", "required field is missing", "schedule:"),
    # SLAs the platform could not honour: refused before any run.
    "unknown SLA unit": Hostile(CONTRACT, sub("  value: 30\n  unit: d\n", "  value: 30\n  unit: fortnight\n"), "slaProperties[2].unit", "retention unit 'fortnight' is not a time unit", "unit: fortnight"),
    "negative SLA": Hostile(CONTRACT, sub("  value: 30\n", "  value: -30\n"), "slaProperties[2].value", "retention must be a number of at least 0", "value: -30"),
    "NaN SLA": Hostile(CONTRACT, sub("  value: 30\n", "  value: .nan\n"), "slaProperties[2].value", "retention must be a number of at least 0", "value: .nan"),
    "infinite SLA": Hostile(CONTRACT, sub("  value: 30\n", "  value: .inf\n"), "slaProperties[2].value", "retention must be a number of at least 0", "value: .inf"),
    "SLA in words": Hostile(CONTRACT, sub("  value: 4\n", "  value: four\n"), "slaProperties[1].value", "latency must be a number", "value: four"),
    "SLA beyond any date": Hostile(CONTRACT, sub("  value: 30\n  unit: d\n", "  value: 1.0e+300\n  unit: y\n"), "slaProperties[2].value", "longer than", "value: 1.0e+300"),
    "SLA of 400 digits": Hostile(CONTRACT, sub("  value: 30\n", "  value: " + "9" * 400 + "\n"), "slaProperties[2].value", "longer than", "value: 999"),
    "latency under a minute": Hostile(CONTRACT, sub("  value: 4\n  unit: h\n", "  value: 30\n  unit: s\n"), "slaProperties[1].value", "at least one minute", "value: 30\n  unit: s"),
    # Names reach paths, SQL and asset keys.
    "column name with newline": Hostile(CONTRACT, sub("- name: order_key\n", '- name: "order_key\\n"\n'), "schema[0].properties[0].name", "is not a safe name", '- name: "order_key'),
    "column name with slash": Hostile(CONTRACT, sub("- name: order_key\n", "- name: order/key\n"), "schema[0].properties[0].name", "is not a safe name", "- name: order/key"),
    "model name with dot-dot": Hostile(CONTRACT, sub("  physicalName: orders\n", "  physicalName: ../orders\n"), "schema[0].physicalName", "is not a safe name", "physicalName: ../"),
    "unicode column name": Hostile(CONTRACT, sub("- name: order_key\n", "- name: ordér_key\n"), "schema[0].properties[0].name", "is not a safe name", "- name: ordér_key"),
    "uppercase product name": Hostile(PRODUCT, sub("name: orders\n", "name: Orders\n"), "name", "is not a safe name", "name: Orders"),
    "source name with newline": Hostile(DOMAIN, sub("operationalSources: [orders, lineitem]", 'operationalSources: [orders, "lineitem\\n"]'),
                                        "operationalSources[1]", "is not a safe name", "operationalSources"),
    "version with newline": Hostile(CONTRACT, sub("version: 1.0.0\n", 'version: "1.0.0\\n"\n'), "version", "is not a semantic version", 'version: "1.0.0'),
    "contract id of another port": Hostile(PRODUCT, sub("contractId: urn:mesh:contract:sales:orders", "contractId: urn:mesh:contract:sales:ordres"),
                                           "outputPorts[0].contractId", "names contract 'urn:mesh:contract:sales:ordres'", "contractId: urn:mesh:contract:sales:ordres"),
    # The published table's columns.
    "zero columns": Hostile(CONTRACT, lambda t: t[: t.index("  properties:\n")] + "  properties: []\n" + t[t.index("  quality:\n  - name: orders_in"):],
                            "schema[0].properties", "at least one column", "  properties: []"),
    "duplicate columns": Hostile(CONTRACT, sub("- name: customer_key\n", "- name: order_key\n"), "schema[0].properties[1].name", "column order_key is declared twice (also properties[0])", "- name: order_key\n    logicalType: integer\n    physicalType: BIGINT\n    description: Customer"),
    "primaryKey on an unknown column": Hostile(CONTRACT, sub("  physicalType: table\n", "  physicalType: table\n  primaryKey: [no_such_column]\n"),
                                               "schema[0].primaryKey", "unknown field 'primaryKey'", "primaryKey:"),
}

ORDERS_RULE = "    query: select count(*) from {object} where order_date not between date '1992-01-01' and date '1998-12-31'\n"


def rule_query(query: str) -> Hostile:
    """orders' sql rule replaced by `query` (tests/test_contract_sql.py has the rest of them)."""
    written_query = "    query: " + json.dumps(query)
    return Hostile(CONTRACT, sub(ORDERS_RULE, written_query + "\n"), "schema[0].quality[0].query",
                   "a sql rule must be one read-only query (SELECT, WITH, UNION) whose only table is {object}", written_query)


# Contract SQL: each a rule that once ran, read or wrote outside its port.
HOSTILE_SQL = {
    "sql: break out of the audit's query": rule_query("select 0) as q(value); copy (select 42) to '/tmp/planted.parquet'; select * from (select 0"),
    "sql: read /etc/passwd": rule_query("select count(*) from read_csv('/etc/passwd')"),
    "sql: a file path as a table": rule_query("select count(*) from '/etc/passwd'"),
    "sql: another table": rule_query("select count(*) from customers_v1"),
    "sql: glob in a join": rule_query("select count(*) from {object} join glob('/etc/*') on true"),
    "sql: a table function in a subquery": rule_query("select count(*) from {object} where 0 < (select count(*) from read_text('/etc/passwd'))"),
    "sql: query() runs SQL": rule_query("select * from query('copy (select 1) to ''/tmp/x.csv''')"),
    "sql: two statements": rule_query("select count(*) from {object}; select 1"),
    "sql: copy": rule_query("copy (select * from {object}) to '/tmp/orders.csv'"),
    "sql: attach": rule_query("attach '/tmp/other.duckdb' as other"),
    "sql: set": rule_query("set enable_external_access = true"),
    "sql: install": rule_query("install httpfs"),
}
ALL_HOSTILE = {**HOSTILE, **HOSTILE_SQL}


def written(tmp_path: Path, file: str, edit: Callable[[str], str | bytes]) -> Path:
    """A copy of the sales domain (tmp_path/sales) with one of its files rewritten; returns that file."""
    folder = tmp_path / "sales"
    shutil.copytree(SALES, folder, ignore=shutil.ignore_patterns("__pycache__"))
    path = folder / file
    content = edit(path.read_text())
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    return path


def line_of(path: Path, line: str | int | None) -> int | None:
    if not isinstance(line, str):
        return line
    text = path.read_bytes().decode().replace("\r\n", "\n")
    assert line in text, f"{line!r} not in {path}"
    return text[: text.index(line)].count("\n") + 1


def refusal(folder: Path) -> list:
    with within(BOUND_SECONDS), pytest.raises(DescriptorError) as info:
        load_domain(folder)
    for problem in info.value.problems:
        assert isinstance(problem.file, Path) and problem.message and "\n" not in str(problem)
        assert problem.line is None or (isinstance(problem.line, int) and problem.line >= 1)
    return info.value.problems


@pytest.mark.unit
@pytest.mark.parametrize("case", ALL_HOSTILE)
def test_hostile_input_is_refused_quickly_and_clearly(tmp_path, case):
    variant = ALL_HOSTILE[case]
    path = written(tmp_path, variant.file, variant.edit)
    problems = refusal(tmp_path / "sales")
    expected = (path, variant.field, line_of(path, variant.line))
    matching = [p for p in problems if (p.file, p.field, p.line) == expected and variant.message in p.message]
    assert matching, f"wanted {expected} {variant.message!r}; got:\n" + "\n".join(map(str, problems))


def orders_document() -> dict:
    return yaml.safe_load((SALES / CONTRACT).read_text())


# Unusual but valid: each loads, and reads as written.
VALID = {
    "unicode descriptions": (sub("  purpose: Every customer order", "  purpose: Chaque commande 注文 🧾 ‏עברית‏ —"),
                             lambda c: c.description.startswith("Chaque commande 注文 🧾")),
    "comments and anchors": (lambda t: "# ODCS v3 port contract\n" + t.replace("    classification: internal\n", "    classification: &c internal  # the default\n", 1)
                             .replace("    classification: internal\n", "    classification: *c\n"),
                             lambda c: {col.classification for col in c.columns} == {"internal"}),
    "flow style (JSON)": (lambda t: json.dumps(orders_document()), lambda c: c.model == "orders" and len(c.columns) == 9),
    "CRLF line endings": (lambda t: t.replace("\n", "\r\n"), lambda c: c.description.endswith("priority.")),
    "byte order mark": (lambda t: "\ufeff" + t, lambda c: c.id == "urn:mesh:contract:sales:orders"),
    "document markers": (lambda t: "%YAML 1.1\n---\n" + t + "...\n", lambda c: c.version == "1.0.0"),
    "block scalar and explicit str": (chain(sub("  purpose: Every customer order with its status, value, date and priority.\n",
                                                "  purpose: >\n    Every customer order,\n    folded.\n"),
                                            sub("version: 1.0.0", "version: !!str 1.0.0")),
                                      lambda c: c.description == "Every customer order, folded.\n" and c.version == "1.0.0"),
    "SLA of two months": (sub("  value: 30\n  unit: d\n", "  value: 2\n  unit: months\n"), lambda c: c.sla_duration("retention") == timedelta(days=60)),
    "latency in hours, unit in capitals": (sub("  value: 4\n  unit: h\n", "  value: 4\n  unit: Hours\n"), lambda c: c.late_after() == timedelta(days=1, hours=4)),
    "500 columns": (lambda t: t.replace("  quality:\n  - name: orders_in", "".join(
        f"  - name: extra_{i}\n    logicalType: string\n    physicalType: VARCHAR\n    description: Column {i}.\n" for i in range(491))
        + "  quality:\n  - name: orders_in", 1), lambda c: len(c.columns) == 500),
}


@pytest.mark.unit
@pytest.mark.parametrize("case", VALID)
def test_unusual_but_valid_input_loads(tmp_path, case):
    edit, reads_as_written = VALID[case]
    written(tmp_path, CONTRACT, edit)
    with within(BOUND_SECONDS):
        domain = load_domain(tmp_path / "sales")
    (contract,) = [p.contract for p in domain.output_ports if p.name == "orders"]
    assert reads_as_written(contract)


# ODCS v3 lists "d, day, days for days; y, yr, years for years, etc.": ISO's units of time, as people write them.
SLA_UNITS = {
    name: length
    for length, names in (
        (timedelta(seconds=1), "s sec secs second seconds"), (timedelta(minutes=1), "m min mins minute minutes"),
        (timedelta(hours=1), "h hr hrs hour hours"), (timedelta(days=1), "d day days"), (timedelta(weeks=1), "w wk wks week weeks"),
        (timedelta(days=30), "mo month months"), (timedelta(days=365), "y yr yrs year years"),
    )
    for name in names.split()
}


@pytest.mark.unit
@pytest.mark.parametrize("unit", SLA_UNITS)
def test_every_odcs_sla_unit_is_a_duration(unit):
    text = (SALES / CONTRACT).read_text().replace("  value: 30\n  unit: d\n", f"  value: 2\n  unit: {unit}\n", 1)
    contract = load_contract(SALES / CONTRACT, text)
    assert contract.sla_duration("retention") == 2 * SLA_UNITS[unit]


@pytest.mark.unit
def test_runs_and_contract_evolution_read_durations_alike():
    """One table: 1 month is 30 days to the freshness check, the retention and `mesh diff`."""
    old, new = orders_document(), orders_document()

    def changes():
        return diff_contracts(*(load_contract(SALES / CONTRACT, yaml.safe_dump(doc)) for doc in (old, new)))

    new["slaProperties"][2].update(value=1, unit="month")
    (change,) = changes()
    assert change.message == "retention SLO restated 30d -> 1month" and not change.breaking
    new["slaProperties"][2].update(value=1, unit="years")
    assert changes()[0].message == "retention SLO strengthened 30d -> 1years"


@pytest.mark.unit
@pytest.mark.parametrize("levels", [9, 60])
def test_an_alias_bomb_is_refused_at_the_same_value_whatever_its_size(levels):
    # 9**60 values cannot be expanded on any machine: refused at the same place as 9**9, the loader
    # counted values as it built them and stopped at the limit, never near the bomb's size.
    text = (SALES / CONTRACT).read_text() + alias_bomb(levels)
    with within(BOUND_SECONDS), pytest.raises(DescriptorError, match="aliases expanded") as info:
        load_contract(SALES / CONTRACT, text)
    assert [p.field for p in info.value.problems] == ["customProperties[5].value[0]"]


# End to end: several hostile files in one copy of the mesh, one `mesh check` for all of them.
E2E = {
    "alias bomb": ("domains/sales/" + CONTRACT, append(alias_bomb()), "customProperties[5].value[0]: ", "aliases expanded"),
    "unterminated quote": ("domains/customers/products/customer_profiles/customer_profiles.odcs.yaml",
                           sub("  purpose: 'Customer master data", '  purpose: "Customer master data'), "<document>: ", "while scanning a quoted scalar at line 10"),
    "unknown SLA unit": ("domains/supply/products/parts/parts.odcs.yaml", sub("  unit: h\n", "  unit: fortnights\n"), "slaProperties[1].unit: ", "latency unit 'fortnights' is not a time unit"),
    "domain name with newline": ("domains/marketing/domain.yaml", sub("name: marketing\n", 'name: "marketing\\n"\n'), "name: ", "is not a safe name"),
    # A domain that does not load is still read for the contracts it declares: as strictly.
    "deep nesting in a product": ("domains/finance/products/revenue_by_nation/product.odps.yaml", append(f"tags: {'[' * 5000}{']' * 5000}\n"),
                                  "tags", "nested more than 64 deep"),
}


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    root = mesh_copy(tmp_path_factory.mktemp("hostile"))
    for file, edit, _, _ in E2E.values():
        path = root / file
        path.write_text(edit(path.read_text()))
    # A generous bound: the CLI's own start-up is most of it; before the fix the bomb never finished.
    return root, mesh("check", str(root), env=dict(os.environ), check=False, timeout=180)


@pytest.mark.parametrize("case", E2E)
def test_mesh_check_reports_hostile_files_on_one_line_each(checked, case):
    root, result = checked
    file, _, field, message = E2E[case]
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith(f"{root / file}:")]
    assert len(lines) == 1 and f": {field}" in lines[0] and message in lines[0], result.stdout


def test_mesh_new_refuses_a_name_ending_in_newline_and_writes_nothing(tmp_path):
    root = mesh_copy(tmp_path)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    env = {**mesh_env(tmp_path / "home"), "MESH_ROOT": str(root)}
    result = mesh("new", "domain", "evil\n", "--team", "evil_team", env=env, check=False)
    assert result.returncode == 1 and "'evil\\n' is not a safe name" in result.stderr
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


@pytest.mark.unit
def test_a_contract_id_ending_in_newline_names_no_port():
    from platform_lib.descriptors.keys import port_key_of_contract

    assert port_key_of_contract("urn:mesh:contract:sales:orders", 1) == ("sales", "orders_v1")
    assert port_key_of_contract("urn:mesh:contract:sales:orders\n", 1) is None


@pytest.mark.unit
def test_contract_evolution_refuses_an_alias_bomb_quickly(tmp_path):
    from platform_lib.governance.evolution import read_contract_version

    path = tmp_path / "orders.odcs.yaml"
    path.write_text((SALES / CONTRACT).read_text() + alias_bomb())
    with within(BOUND_SECONDS), pytest.raises(DescriptorError, match="aliases expanded"):
        read_contract_version(str(path), tmp_path)
