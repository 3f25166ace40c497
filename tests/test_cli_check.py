"""`mesh check FILE`: one contract, product descriptor or domain.yaml linted on its own, without the
rest of the mesh; `--junit FILE`: either mode's results as JUnit XML for CI systems."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET

import pytest

from tests.support.mesh_copy import edit, mesh_copy
from tests.support.processes import REPO, mesh

SALES = REPO / "domains" / "sales"
ORDERS = SALES / "products" / "orders"
EXAMPLES = REPO / "tests" / "fixtures" / "odcs_examples"


def check(*args):
    result = mesh("check", *map(str, args), env=dict(os.environ), check=False)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


@pytest.fixture
def alone(tmp_path):
    """The orders product's folder, copied where no workspace, domain or dbt project is."""
    return shutil.copytree(ORDERS, tmp_path / "orders")


@pytest.mark.parametrize("path", [ORDERS / "orders.odcs.yaml", ORDERS / "product.odps.yaml", SALES / "domain.yaml"])
def test_a_sound_file_has_no_problems(path):
    result = check(path)
    # A contract is told valid ODCS first, then judged by the mesh's profile (test_odcs_standard).
    verdict = [f"{path}: valid ODCS (the standard's schema v3.1.0, with what its folder says filled in), and meets the mesh's profile"] \
        if path.name.endswith(".odcs.yaml") else []
    assert (result.returncode, result.stdout.strip().splitlines()) == (0, [*verdict, "mesh check: no problems"]), result.stdout + result.stderr


def test_a_contract_is_linted_alone_with_file_line_and_field(alone):
    contract = alone / "orders.odcs.yaml"
    edit(contract, "    physicalType: BIGINT\n", "    phyiscalType: BIGINT\n")
    line = contract.read_text().splitlines().index("    phyiscalType: BIGINT") + 1
    result = check(contract)
    assert result.returncode == 1
    assert result.stdout.strip().splitlines() == [
        f"{contract}: not valid ODCS",
        f"{contract}:{line}: schema[0].properties[0].phyiscalType: unknown field 'phyiscalType' (not in ODCS v3.1.0): did you mean 'physicalType'?",
        "mesh check: 1 violation, 0 warnings",
    ]


def test_a_product_descriptor_is_linted_with_the_contracts_it_names(alone):
    descriptor = alone / "product.odps.yaml"
    edit(descriptor, "status: active\n", "status: active\nstatsu: active\n")
    result = check(descriptor)
    assert result.returncode == 1
    (problem, summary) = result.stdout.strip().splitlines()
    assert summary == "mesh check: 1 violation, 0 warnings"
    assert problem.startswith(f"{descriptor}:") and "statsu: unknown field (not in ODPS v1.0.0)" in problem
    # The port's contract is the descriptor's: a missing one is the descriptor's problem.
    edit(descriptor, "statsu: active\n", "")
    (alone / "orders.odcs.yaml").unlink()
    result = check(descriptor)
    assert result.returncode == 1 and "no contract orders.odcs.yaml next to the descriptor" in result.stdout


def test_a_domain_file_is_linted_with_its_governance_settings(tmp_path):
    root = mesh_copy(tmp_path)
    domain = root / "domains" / "sales" / "domain.yaml"
    edit(domain, "operationalSources:", "governance:\n  severities:\n    naming: warning\noperationalSources:")
    line = domain.read_text().splitlines().index("    naming: warning") + 1
    result = check(domain)
    assert result.returncode == 1
    assert f"{domain}:{line}: governance.severities.naming: naming is a global error; a domain may raise a severity, never lower or waive it" in result.stdout


def test_a_file_that_is_no_descriptor_is_a_usage_error(tmp_path):
    other = tmp_path / "orders.sql"
    other.write_text("select 1")
    result = check(other)
    assert result.returncode == 2 and "*.odcs.yaml" in result.stderr and "product.odps.yaml" in result.stderr


def test_json_output_of_a_file(alone):
    contract = alone / "orders.odcs.yaml"
    edit(contract, "    unique: true\n", "    unique: 1\n")
    result = check(contract, "--json")
    (problem,) = json.loads(result.stdout)
    assert result.returncode == 1 and problem["file"] == str(contract) and problem["field"] == "schema[0].properties[0].unique"


def junit(path) -> ET.Element:
    return ET.parse(path).getroot()


def test_junit_of_a_file_has_one_testcase_carrying_its_problems(alone, tmp_path):
    contract = alone / "orders.odcs.yaml"
    edit(contract, "    physicalType: BIGINT\n", "    phyiscalType: BIGINT\n")
    report = tmp_path / "report.xml"
    result = check(contract, "--junit", report)
    assert result.returncode == 1
    (case,) = junit(report).iter("testcase")
    assert case.get("name") == str(contract) and case.get("file") == str(contract)
    (failure,) = case.findall("failure")
    (line,) = [line for line in result.stdout.splitlines() if "phyiscalType" in line]
    assert failure.text.strip() == line and failure.get("message") == line


def test_junit_of_the_mesh_has_a_testcase_per_policy_and_domain(tmp_path):
    report = tmp_path / "report.xml"
    assert check(REPO, "--junit", report).returncode == 0
    suites = {suite.get("name"): suite for suite in junit(report).iter("testsuite")}
    assert set(suites) == {"sales", "customers", "supply", "finance", "marketing"}
    assert all(suite.get("failures") == "0" for suite in suites.values())
    cases = {case.get("name") for case in suites["finance"].iter("testcase")}
    # Loading the descriptors, their agreement with dbt, every policy the domain is held to (its own too).
    assert {"descriptors", "dbt models", "naming", "port-access", "deprecated-consumers", "finance-decimal-money"} <= cases
    # The repository's one warning passes, and says so in the output of the case that found it.
    (warned,) = [(suite.get("name"), case) for suite in suites.values() for case in suite.iter("testcase") if case.find("system-out") is not None]
    assert (warned[0], warned[1].get("name")) == ("customers", "deprecated-consumers")
    assert "geography v1 is deprecated" in warned[1].find("system-out").text


def test_junit_of_a_broken_mesh_fails_the_cases_that_found_the_problems(tmp_path):
    root = mesh_copy(tmp_path)
    model = root / "dbt_projects" / "finance" / "models" / "products" / "shipping_priority.sql"
    edit(model, "orders.order_date as o_orderdate", "cast(orders.order_date as varchar) as o_orderdate")
    edit(root / "domains" / "marketing" / "domain.yaml", "team:\n", "team: [\n")
    report = tmp_path / "report.xml"
    result = check(root, "--junit", report)
    assert result.returncode == 1
    failed = {(suite.get("name"), case.get("name")): case.find("failure")
              for suite in junit(report).iter("testsuite") for case in suite.iter("testcase") if case.find("failure") is not None}
    assert set(failed) == {("finance", "dbt models"), ("marketing", "descriptors")}, failed
    assert "dbt model shipping_priority makes o_orderdate VARCHAR (" in failed["finance", "dbt models"].text
    assert "malformed YAML" in failed["marketing", "descriptors"].get("message")
    # Each failure's text is the lines `mesh check` prints.
    assert all(line in result.stdout.splitlines() for failure in failed.values() for line in failure.text.strip().splitlines())


def test_a_contract_from_elsewhere_is_valid_odcs_and_told_what_the_profile_needs(tmp_path):
    """One of the standard's own examples: valid ODCS, and the mesh's profile's finding tagged apart."""
    example = shutil.copy(EXAMPLES / "full-example.odcs.yaml", tmp_path / "full-example.odcs.yaml")
    result = check(example)
    assert result.returncode == 1
    verdict, finding, summary = result.stdout.strip().splitlines()
    assert verdict == f"{example}: valid ODCS (the standard's schema v3.1.0), and the mesh's profile needs what is below"
    assert finding.startswith(f"{example}:") and ": schema: [mesh profile] an output port contract describes exactly one schema object" in finding
    assert summary == "mesh check: 1 violation, 0 warnings"
