"""Contract evolution: each kind of change to the real orders contract, classed breaking or compatible,
and the version rules that follow from the class."""

from __future__ import annotations

import copy
import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from platform_lib.cli.diff import diff, render
from platform_lib.descriptors.contract import Contract, load_contract
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.governance.against import against
from platform_lib.governance.evolution import diff_contracts, read_contract_version, semver_violations
from platform_lib.mesh import Mesh

ORDERS = Path(__file__).parents[1] / "domains/sales/products/orders/orders.odcs.yaml"
BASE = yaml.safe_load(ORDERS.read_text())


def contract(doc: dict) -> Contract:
    """The document as a typed contract, read as written: evolution compares what the loader reads."""
    return load_contract(ORDERS, yaml.safe_dump(doc, sort_keys=False))


def changes_between(old: dict, new: dict):
    return diff_contracts(contract(old), contract(new))


def col(doc, name):
    return next(p for p in doc["schema"][0]["properties"] if p["name"] == name)


def rule(doc, name):
    rules = doc["schema"][0]["quality"] + [r for p in doc["schema"][0]["properties"] for r in p.get("quality", [])]
    return next(r for r in rules if r["name"] == name)


def sla(doc, name):
    return next(s for s in doc["slaProperties"] if s["property"] == name)


def put(target, **values):
    target.update(values)


def masked(how):
    return lambda d: put(col(d, "clerk"), customProperties=[{"property": "masking", "value": how}])


def granted(*domains):
    return lambda d: put(d["roles"][0], customProperties=[{"property": "grantedTo", "value": list(domains)}])


def between(low, high):
    return lambda d: col(d, "ship_priority").setdefault("quality", []).append(
        {"name": "ship_priority_range", "type": "library", "metric": "invalidValues", "mustBeBetween": [low, high]})


def row_count_must_not_be(value):
    """The not_empty rule judged by mustNotBe instead: a rule has one operator."""
    return lambda d: (rule(d, "not_empty").pop("mustBeGreaterThan"), put(rule(d, "not_empty"), mustNotBe=value))


def remove_column(name):
    return lambda d: d["schema"][0]["properties"].remove(col(d, name))


# (id, change applied to the new version, breaking, column, words in the message, setup applied to both versions)
CASES = [
    ("column removed", remove_column("comment"), True, "comment", "column comment removed", None),
    ("column renamed", lambda d: put(col(d, "comment"), name="note"), True, "comment", "renamed comment -> note", None),
    ("column added", lambda d: d["schema"][0]["properties"].append(
        {"name": "channel", "logicalType": "string", "physicalType": "VARCHAR", "description": "Sales channel."}), False, "channel", "column channel added", None),
    ("physical type changed", lambda d: put(col(d, "order_date"), physicalType="VARCHAR"), True, "order_date", "order_date type DATE -> VARCHAR", None),
    ("logical type changed", lambda d: put(col(d, "order_date"), logicalType="string"), True, "order_date", "logical type date -> string", None),
    ("required added", lambda d: put(col(d, "customer_key"), required=True), True, "customer_key", "now required", None),
    ("required dropped", lambda d: col(d, "order_key").pop("required"), True, "order_key", "no longer required", None),
    ("unique dropped", lambda d: put(col(d, "order_key"), unique=False), True, "order_key", "no longer unique", None),
    ("unique added", lambda d: put(col(d, "customer_key"), unique=True), True, "customer_key", "now unique", None),
    ("primary key changed", lambda d: put(col(d, "customer_key"), primaryKey=True), True, "customer_key", "primary key", None),
    ("enum narrowed", lambda d: rule(d, "order_status_values")["arguments"]["validValues"].remove("P"), True, "order_status", "narrowed, no longer P", None),
    ("enum widened", lambda d: rule(d, "order_status_values")["arguments"]["validValues"].append("C"), False, "order_status", "widened", None),
    ("enum dropped", lambda d: rule(d, "order_status_values").pop("arguments"), True, "order_status", "valid values removed", None),
    ("minimum lowered", lambda d: put(col(d, "total_price")["logicalTypeOptions"], minimum=-100), True, "total_price", "minimum 0 -> -100", None),
    ("minimum raised", lambda d: put(col(d, "total_price")["logicalTypeOptions"], minimum=1), False, "total_price", "minimum 0 -> 1", None),
    ("minimum removed", lambda d: col(d, "total_price").pop("logicalTypeOptions"), True, "total_price", "minimum 0 removed", None),
    ("maximum added", lambda d: put(col(d, "total_price")["logicalTypeOptions"], maximum=10**7), False, "total_price", "maximum 10000000 added", None),
    ("maxLength raised", lambda d: put(col(d, "clerk"), logicalTypeOptions={"maxLength": 30}), True, "clerk", "maxLength 15 -> 30",
     lambda d: put(col(d, "clerk"), logicalTypeOptions={"maxLength": 15})),
    ("pattern changed", lambda d: put(col(d, "clerk"), logicalTypeOptions={"pattern": "^Clerk#.*$"}), True, "clerk", "pattern",
     lambda d: put(col(d, "clerk"), logicalTypeOptions={"pattern": "^Clerk#[0-9]{9}$"})),
    ("pattern added", lambda d: put(col(d, "clerk"), logicalTypeOptions={"pattern": "^Clerk#[0-9]{9}$"}), False, "clerk", "pattern ^Clerk#[0-9]{9}$ added", None),
    ("column rule removed", lambda d: col(d, "order_status").pop("quality"), True, "order_status", "quality rule order_status_values removed", None),
    ("column rule added", between(1, 5), False, "ship_priority", "quality rule ship_priority_range added", None),
    ("mustBe raised", lambda d: put(rule(d, "order_status_values"), mustBe=10), True, "order_status", "mustBe 0 -> 10", None),
    ("mustBeGreaterThan lowered", lambda d: put(rule(d, "not_empty"), mustBeGreaterThan=-1), True, None, "mustBeGreaterThan 0 -> -1", None),
    ("mustBeGreaterThan raised", lambda d: put(rule(d, "not_empty"), mustBeGreaterThan=1000), False, None, "mustBeGreaterThan 0 -> 1000", None),
    ("mustBeBetween widened", between(0, 5), True, "ship_priority", "mustBeBetween [1, 5] -> [0, 5]", between(1, 5)),
    ("mustBeBetween narrowed", between(2, 5), False, "ship_priority", "mustBeBetween [1, 5] -> [2, 5]", between(1, 5)),
    ("mustNotBe changed", lambda d: put(rule(d, "not_empty"), mustNotBe=1), True, None, "mustNotBe 0 -> 1", row_count_must_not_be(0)),
    ("schema rule removed", lambda d: d["schema"][0]["quality"].remove(rule(d, "orders_in_tpch_window")), True, None, "orders_in_tpch_window removed", None),
    ("latency weakened", lambda d: put(sla(d, "latency"), value=8), True, None, "latency SLO weakened 4h -> 8h", None),
    ("latency strengthened", lambda d: put(sla(d, "latency"), value=30, unit="min"), False, None, "latency SLO strengthened 4h -> 30min", None),
    ("latency restated", lambda d: put(sla(d, "latency"), value=240, unit="m"), False, None, "latency SLO restated 4h -> 240m", None),
    ("frequency weakened", lambda d: put(sla(d, "frequency"), value=1, unit="w"), True, None, "frequency SLO weakened 1d -> 1w", None),
    ("retention decreased", lambda d: put(sla(d, "retention"), value=7), True, None, "retention SLO weakened 30d -> 7d", None),
    ("retention increased", lambda d: put(sla(d, "retention"), value=1, unit="y"), False, None, "retention SLO strengthened 30d -> 1y", None),
    ("SLO removed", lambda d: d["slaProperties"].remove(sla(d, "latency")), True, None, "latency SLO removed", None),
    ("classification changed", lambda d: put(col(d, "clerk"), classification="confidential"), True, "clerk", "classification internal -> confidential", None),
    ("masking added", masked("hash"), True, "clerk", "clerk masking added (hash)", None),
    ("masking changed", masked("redact"), True, "clerk", "clerk masking hash -> redact", masked("hash")),
    ("masking removed", lambda d: col(d, "clerk").pop("customProperties"), True, "clerk", "masking removed (was hash)", masked("hash")),
    ("role removed", lambda d: d["roles"].clear(), True, None, "role mesh_reader removed", None),
    ("role added", lambda d: d["roles"].append({"role": "finance_reader", "access": "read"}), False, None, "role finance_reader added", None),
    ("grant lost", granted("finance"), True, None, "no longer granted to marketing", granted("finance", "marketing")),
    ("grant added", granted("finance", "marketing"), False, None, "now also granted to marketing", granted("finance")),
    ("column description changed", lambda d: put(col(d, "clerk"), description="Clerk id."), False, "clerk", "clerk description changed", None),
    ("contract description changed", lambda d: put(d["description"], purpose="Orders."), False, None, "description changed", None),
    ("status changed", lambda d: put(d, status="deprecated"), False, None, "status active -> deprecated", None),
    ("tags added", lambda d: put(d, tags=["tpch"]), False, None, "tags added", None),
    ("team changed", lambda d: d["team"]["members"].append({"username": "bob@mesh.example", "role": "steward"}), False, None, "team changed", None),
]


@pytest.mark.unit
@pytest.mark.parametrize("change, breaking, column, words, setup", [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_change_is_classified(change, breaking, column, words, setup):
    old = copy.deepcopy(BASE)
    if setup:
        setup(old)
    new = copy.deepcopy(old)
    change(new)
    changes = changes_between(old, new)
    assert len(changes) == 1, changes
    assert (changes[0].breaking, changes[0].column) == (breaking, column)
    assert words in changes[0].message


@pytest.mark.unit
def test_removed_and_added_column_of_another_type_is_no_rename():
    new = copy.deepcopy(BASE)
    put(col(new, "comment"), name="note", physicalType="INTEGER")
    assert [(c.breaking, c.column, c.message) for c in changes_between(BASE, new)] == [
        (True, "comment", "column comment removed"), (False, "note", "column note added")]


@pytest.mark.unit
def test_identical_and_reordered_contracts_have_no_changes():
    new = copy.deepcopy(BASE)
    new["schema"][0]["properties"].reverse()
    new["slaProperties"].reverse()
    new = {k: new[k] for k in reversed(list(new))}
    assert changes_between(BASE, copy.deepcopy(BASE)) == []
    assert changes_between(BASE, new) == []


@pytest.mark.unit
def test_a_type_spelt_otherwise_is_no_change():
    new = copy.deepcopy(BASE)
    put(col(new, "order_date"), physicalType="date")
    assert changes_between(BASE, new) == []


def versions(old_version, new_version, change):
    # The version is no change of its own: what it must be follows from the others.
    new = copy.deepcopy(BASE)
    change(new)
    return semver_violations(old_version, new_version, changes_between(BASE, new))


breaking = remove_column("comment")


def compatible(d):
    put(col(d, "clerk"), description="Clerk id.")


@pytest.mark.unit
@pytest.mark.parametrize("old_version, new_version, change, expected", [
    pytest.param("1.0.0", "1.1.0", breaking, "publish as 2.0.0 and keep v1 live", id="breaking, same major"),
    pytest.param("1.0.0", "1.0.0", breaking, "keeps major 1", id="breaking, no bump"),
    pytest.param("1.0.0", "2.0.0", breaking, None, id="breaking, major bump"),
    pytest.param("1.0.0", "1.1.0", compatible, None, id="compatible, minor bump"),
    pytest.param("1.0.0", "1.0.0", compatible, "contract changed but version still 1.0.0: bump it", id="compatible, no bump"),
    pytest.param("1.2.0", "1.1.0", compatible, "version decreased 1.2.0 -> 1.1.0", id="version decreased"),
    pytest.param("1.0.0", "2.0.0-rc.1", breaking, None, id="breaking, pre-release of the next major"),
    pytest.param("2.0.0-rc.1", "2.0.0-rc.2", breaking, "keeps major 2", id="breaking, between pre-releases of one major"),
    pytest.param("2.0.0-rc.1", "2.0.0", compatible, None, id="compatible, pre-release to release"),
    pytest.param("1.0.0", "1.0.0-rc.1", compatible, "version decreased 1.0.0 -> 1.0.0-rc.1", id="release to its pre-release"),
    pytest.param("1.0.0+build.1", "1.0.0+build.2", compatible, "version still 1.0.0+build.2: bump it", id="compatible, build metadata only"),
])
def test_semver(old_version, new_version, change, expected):
    violations = versions(old_version, new_version, change)
    if expected is None:
        assert violations == []
    else:
        assert len(violations) == 1 and expected in violations[0], violations


@pytest.mark.unit
@pytest.mark.parametrize("version", [1, 1.1, "1.0", "v1.0.0"])
def test_a_version_that_is_no_semver_is_refused(version):
    with pytest.raises(ValueError, match="is not a semantic version"):
        versions(version, "2.0.0", breaking)


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=cwd, check=True, capture_output=True)


def test_versions_in_git(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "orders.odcs.yaml").write_text(ORDERS.read_text())
    git(tmp_path, "add", "orders.odcs.yaml")
    git(tmp_path, "commit", "-q", "-m", "v1")
    new = copy.deepcopy(BASE)
    put(sla(new, "latency"), value=8)
    (tmp_path / "orders.odcs.yaml").write_text(yaml.safe_dump(new))

    (label, at_head), (_, now) = read_contract_version("HEAD:orders.odcs.yaml", tmp_path), read_contract_version("orders.odcs.yaml", tmp_path)
    assert (label, at_head.data, at_head.file) == ("HEAD:orders.odcs.yaml", BASE, Path("HEAD:orders.odcs.yaml"))
    assert (now.data, now.sla_duration("latency")) == (new, timedelta(hours=8))
    assert read_contract_version("HEAD:missing.odcs.yaml", tmp_path) == ("HEAD:missing.odcs.yaml", None)
    with pytest.raises(ValueError, match="not a git commit"):
        read_contract_version("nosuchref:orders.odcs.yaml", tmp_path)

    changes, violations = diff("HEAD:orders.odcs.yaml", "orders.odcs.yaml", tmp_path)
    assert json.loads(render(changes, violations, as_json=True)) == {
        "changes": [{"breaking": True, "field": "slaProperties[latency]", "column": None, "message": "latency SLO weakened 4h -> 8h"}],
        "semver": [violations[0]],
    }
    assert "publish as 2.0.0" in violations[0]
    assert render(changes, violations, as_json=False).splitlines()[1].split() == ["BREAKING", "slaProperties[latency]", "latency", "SLO", "weakened", "4h", "->", "8h"]

    # Only semantic versions compare: a version that is none is refused where it is written.
    (tmp_path / "orders.odcs.yaml").write_text(ORDERS.read_text().replace("version: 1.0.0", "version: '1.1'"))
    with pytest.raises(DescriptorError, match=rf"^{tmp_path}/orders.odcs.yaml:5: version: '1.1' is not a semantic version"):
        read_contract_version("orders.odcs.yaml", tmp_path)
    git(tmp_path, "commit", "-q", "-am", "version 1.1")
    with pytest.raises(DescriptorError, match=r"^HEAD:orders.odcs.yaml:5: version: '1.1' is not a semantic version"):
        read_contract_version("HEAD:orders.odcs.yaml", tmp_path)


def test_against_reports_a_version_that_does_not_load_and_judges_the_others(tmp_path):
    """Only two contracts compare: a version the loader refuses (one at the ref too, by today's rules)
    is reported as the loader tells it, and every other changed contract is still judged."""
    refused, judged = tmp_path / "refused.odcs.yaml", tmp_path / "judged.odcs.yaml"
    refused.write_text(ORDERS.read_text().replace("version: 1.0.0", "version: '1.1'"))
    judged.write_text(ORDERS.read_text())
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "v1")
    refused.write_text(refused.read_text().replace("status: active", "status: deprecated"))
    new = copy.deepcopy(BASE)
    remove_column("comment")(new)
    new["version"] = "1.1.0"
    judged.write_text(yaml.safe_dump(new, sort_keys=False))

    assert list(map(str, against(tmp_path, "HEAD", Mesh(())))) == [
        "HEAD:./refused.odcs.yaml:5: version: '1.1' is not a semantic version: MAJOR.MINOR.PATCH, no leading zeros, optionally "
        "-PRERELEASE and +BUILD, e.g. 1.0.0 or 2.0.0-rc.1",
        f"{judged}:5: version: [contract-evolution] breaking changes need a new major version: 1.0.0 -> 1.1.0 keeps major 1; publish as "
        "2.0.0 and keep v1 live (status deprecated, endOfSupport) until its consumers moved. Breaking: column comment removed. "
        "No consumer uses the affected columns",
    ]
