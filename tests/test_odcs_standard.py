"""Contracts from elsewhere (issue 21): `mesh check FILE` says whether a contract is valid ODCS by the
standard's own JSON schema, nothing more, and apart from that what the mesh's profile needs on top.
The examples are the standard's own (bitol-io/open-data-contract-standard, docs/examples at
e6a1c66, Apache-2.0); each of its 18 reads "valid ODCS", this test keeps six."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from platform_lib.cli.check import ODCS, PROFILE, lint
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.standards import validate_odcs
from platform_lib.descriptors.yaml_file import load_yaml
from platform_lib.mesh import load_mesh

EXAMPLES = Path(__file__).parent / "fixtures" / "odcs_examples"

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.odcs.yaml")))
def test_the_standards_own_examples_are_valid_odcs(example):
    """Three of them declare v3.0.2 and use v3.1.0's fields (all-data-types, column-completeness,
    basic-four-dpo): the newest schema that lists their apiVersion judges them, as the standard's CI does."""
    standard, profile = lint(EXAMPLES / example)
    assert (standard.suite, standard.problems) == (ODCS, ())
    assert standard.verdict.startswith(f"{EXAMPLES / example}: valid ODCS (the standard's schema v3.1.0), ")
    # What the mesh needs on top is reported apart, as its profile's, never as the standard's.
    assert profile.suite == PROFILE and all(p.policy == PROFILE for p in profile.problems)


def test_a_contract_without_status_is_not_valid_odcs(tmp_path):
    """The schema of the `open-data-contract-standard` package's model accepted it; the standard requires it."""
    data = yaml.safe_load((EXAMPLES / "full-example.odcs.yaml").read_text())
    del data["status"]
    contract = tmp_path / "no-status.odcs.yaml"
    contract.write_text(yaml.safe_dump(data, sort_keys=False))
    (standard,) = lint(contract)
    assert standard.verdict == f"{contract}: not valid ODCS"
    assert [(p.field, p.message) for p in standard.problems] == [("", "'status' is a required property: add it")]


def test_a_server_type_the_standard_does_not_define_is_not_valid_odcs(tmp_path):
    doc = load_yaml(tmp_path / "x.odcs.yaml", (EXAMPLES / "kafka-server.odcs.yaml").read_text().replace("type: kafka", "type: kafkaa"))
    with pytest.raises(DescriptorError, match=r"servers\[0\]\.type: 'kafkaa' is not one of "):
        validate_odcs(doc)


def test_every_contract_of_the_mesh_is_valid_odcs_and_meets_the_profile():
    contracts = [port.contract.file for domain in load_mesh().domains for port in domain.output_ports]
    assert contracts
    for contract in contracts:
        standard, profile = lint(contract)
        assert standard.verdict == f"{contract}: valid ODCS (the standard's schema v3.1.0, with what its folder says filled in), and meets the mesh's profile"
        assert profile.problems == ()


def test_the_profile_tells_everything_it_needs_at_once():
    """A contract from elsewhere is told all the profile needs in one pass, each on its own line:
    one finding (the contract's description) hides no other (the model, a column's name)."""
    _, profile = lint(EXAMPLES / "column-completeness.odcs.yaml")
    assert [(p.line, p.field, p.message) for p in profile.problems] == [
        (1, "description", "required field is missing"),
        (8, "schema[0].physicalName", "required field is missing"),
        (17, "schema[0].properties[0].name", "'UniqueID' is not a safe name: use lowercase letters, digits and _ (start with a letter)"),
    ]
