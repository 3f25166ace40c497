"""Semantic versions (SemVer 2.0.0): one reading of a contract's or a port's version everywhere the
platform takes a major from it or compares two of them. A pre-release is a version like any other:
2.0.0-rc.1 is major 2, published as `<port>_v2`, and bound by consumers of major 2."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.yaml_file import load_yaml
from tests.support.mesh_copy import edit
from tests.support.processes import REPO

# (text, its major, or None where it is no semantic version)
VERSIONS = [
    ("1.0.0", 1),
    ("0.0.0", 0),
    ("10.20.30", 10),
    ("1.0.0-rc.1", 1),
    ("2.0.0-alpha.beta.1", 2),
    ("1.0.0-0.3.7", 1),
    ("1.0.0-x-y-z.--", 1),
    ("1.0.0+20130313144700", 1),
    ("1.0.0-beta+exp.sha.5114f85", 1),
    ("1.0.0+001", 1),  # build identifiers may have leading zeros, pre-release numbers may not
    ("1", None),
    ("1.2", None),
    ("1.2.3.4", None),
    ("v1.2.3", None),
    ("01.2.3", None),
    ("1.02.3", None),
    ("1.2.03", None),
    ("1.2.3-01", None),
    ("1.2.3-", None),
    ("1.2.3+", None),
    ("1.2.3-alpha..1", None),
    ("1.2.3+build..1", None),
    ("1.2.3-é", None),
    ("1.2.3\n", None),
    (" 1.2.3", None),
    ("", None),
    ("１.2.3", None),  # a fullwidth digit: int() reads it, SemVer does not
]


def _major_of_descriptor(text: str) -> int | None:
    from platform_lib.descriptors.fields import major_of

    # JSON's quoting is YAML's: the text arrives as written, a trailing newline included.
    doc = load_yaml(Path("contract.odcs.yaml"), f"version: {json.dumps(text)}\n")
    try:
        return major_of(doc, "version")
    except DescriptorError:
        return None


def _major_of_evolution(text: str) -> int | None:
    """The major `mesh diff` and `mesh check --against` judge a breaking change by."""
    from platform_lib.governance.evolution import Change, semver_violations

    breaking = [Change(True, "schema[0].properties[comment]", "comment", "column comment removed")]
    try:
        (said,) = semver_violations(text, text, breaking)
    except ValueError:
        return None
    return int(re.search(r"keeps major (\d+)", said).group(1))


def _major_of_against(text: str, monkeypatch) -> int | None:
    """The major whose consumers `mesh check --against` looks for (the port key it builds from the
    contract as at the ref)."""
    from platform_lib.descriptors.contract import load_contract
    from platform_lib.governance import against

    orders = REPO / "domains/sales/products/orders/orders.odcs.yaml"
    seen = []
    monkeypatch.setattr(against, "port_key", lambda domain, port, major: seen.append(major))
    try:
        old = load_contract(orders, orders.read_text().replace("version: 1.0.0", f"version: {json.dumps(text)}", 1))
    except DescriptorError:
        return None
    against.affected_consumers(SimpleNamespace(domains=[]), old, [])
    return seen[0]


@pytest.mark.parametrize("text, major", VERSIONS, ids=[repr(t) for t, _ in VERSIONS])
def test_every_reader_agrees_on_what_a_version_is(text, major, monkeypatch):
    readers = {
        "descriptors (contract and port versions)": _major_of_descriptor(text),
        "contract evolution (mesh diff)": _major_of_evolution(text),
        "affected consumers (mesh check --against)": _major_of_against(text, monkeypatch),
    }
    assert readers == dict.fromkeys(readers, major)


@pytest.mark.parametrize("text, major", VERSIONS, ids=[repr(t) for t, _ in VERSIONS])
def test_parse(text, major):
    from platform_lib.descriptors.versions import parse_version

    if major is None:
        with pytest.raises(ValueError, match="is not a semantic version"):
            parse_version(text)
    else:
        version = parse_version(text)
        assert (version.major, str(version)) == (major, text)


def test_parts():
    from platform_lib.descriptors.versions import SemVer, parse_version

    assert parse_version("1.2.3-rc.1+build.7") == SemVer(1, 2, 3, ("rc", "1"), ("build", "7"))
    assert parse_version("1.2.3") == SemVer(1, 2, 3)


@pytest.mark.parametrize("value, hint", [
    (1, "write it as a string"),
    (1.0, "write it as a string"),
    ("v1.0.0", "no v before it"),
    ("01.0.0", "no leading zeros"),
])
def test_errors_say_what_to_write(value, hint):
    from platform_lib.descriptors.versions import parse_version

    with pytest.raises(ValueError, match=f"^{re.escape(repr(value))} is not a semantic version.*{hint}"):
        parse_version(value)


def test_precedence_follows_semver():
    from platform_lib.descriptors.versions import parse_version

    # semver.org's own example, in increasing precedence.
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1", "10.0.0"]
    keys = [parse_version(v).precedence for v in ordered]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert parse_version("1.0.0+build.1").precedence == parse_version("1.0.0+build.2").precedence == parse_version("1.0.0").precedence


def test_a_descriptor_error_names_file_field_and_line():
    from platform_lib.descriptors.fields import major_of

    doc = load_yaml(Path("orders.odcs.yaml"), "id: x\nversion: 1.0\n")
    with pytest.raises(DescriptorError) as raised:
        major_of(doc, "version")
    assert str(raised.value) == "orders.odcs.yaml:2: version: 1.0 is not a semantic version: write it as a string such as 1.0.0"


def test_a_pre_release_port_is_its_major(tmp_path):
    """A product may publish 2.0.0-rc.1 of its port beside the live 1.x: major 2 in the descriptor,
    in the contract file's name and in the port's asset key."""
    from platform_lib.descriptors.derived import Home
    from platform_lib.descriptors.product import load_product

    folder = tmp_path / "orders"
    shutil.copytree(REPO / "domains/sales/products/orders", folder)
    shutil.copy(folder / "orders.odcs.yaml", folder / "orders.v1.odcs.yaml")
    edit(folder / "orders.odcs.yaml", "version: 1.0.0", "version: 2.0.0-rc.1")
    descriptor = folder / "product.odps.yaml"
    edit(descriptor, "  version: 1.0.0\n  contractId: urn:mesh:contract:sales:orders",
         "  version: 1.0.0\n  contractId: urn:mesh:contract:sales:orders\n- name: orders\n  version: 2.0.0-rc.1\n  contractId: urn:mesh:contract:sales:orders")
    v1, v2 = load_product(folder, Home("sales", "orders")).output_ports
    assert (v1.contract.major, v1.contract.version, v1.asset_key) == (1, "1.0.0", ("sales", "orders_v1"))
    assert (v2.contract.major, v2.contract.version, v2.asset_key) == (2, "2.0.0-rc.1", ("sales", "orders_v2"))
