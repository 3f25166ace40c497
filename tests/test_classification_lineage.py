"""Classification follows the data: a consumer that copies, renames or reshapes a PII column of a
restricted port it was granted into a port every domain reads is refused by `mesh check`, at its
location's load and by the run, whatever its contract (written by `mesh contract sync`) declares;
what removes the value (a count), masks it or keeps it among the granted domains passes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import ports
from tests.support.mesh_copy import edit, mesh_copy
from tests.support.processes import BIN, REPO, mesh
from tests.test_cli_run import fresh_home

FULL = "urn:mesh:contract:customers:customer_profiles_full"
ORDERS = "urn:mesh:contract:sales:orders"
SOURCE = "{{ source('customers', 'customer_profiles_full') }}"

# What mesh check says of a port whose SQL cannot be traced column by column.
UNTRACEABLE = "untraceable"

# Products of a new domain, vip, granted customer_profiles_full (name, address and phone are pii):
# each a model and what `mesh check` must say of the port it publishes to every domain.
VARIANTS = {
    # The new user's TPC-H Q18: the customer's name renamed.
    "big_spenders": ("""select
    customers.name as c_name,
    customers.customer_key as c_custkey,
    orders.order_key as o_orderkey,
    orders.total_price as o_totalprice
from {{ source('customers', 'customer_profiles_full') }} as customers
join {{ source('sales', 'orders') }} as orders on customers.customer_key = orders.customer_key
where orders.total_price > 300000
""", {"c_name": ["name"]}),
    "through_cte": (f"""with holders as (select name as who, customer_key from {SOURCE})
select who as customer, customer_key from holders
""", {"customer": ["name"]}),
    "shouting": (f"""select upper(name) || '!' as shout, concat(address, ', ', phone) as reach, customer_key from {SOURCE}
""", {"shout": ["name"], "reach": ["address", "phone"]}),
    "everything": (f"select * from {SOURCE}\n", {"name": ["name"], "address": ["address"], "phone": ["phone"]}),
    # DuckDB's COLUMNS() picks columns by a pattern sqlglot cannot follow: the port is refused as untraceable.
    "by_pattern": (f"select customer_key, columns('^na') from {SOURCE}\n", UNTRACEABLE),
    # A count publishes no name.
    "name_count": (f"select nation_key, count(distinct name) as names from {SOURCE} group by nation_key\n", {}),
    # Masked by its own contract, or published only to a domain granted the names.
    "masked_holders": (f"select name as holder, customer_key from {SOURCE}\n", {}),
    "granted_holders": (f"select name as holder, customer_key from {SOURCE}\n", {}),
}


def _contract(root: Path, product: str) -> Path:
    return root / "domains" / "vip" / "products" / product / f"{product}.odcs.yaml"


def _edit_contract(path: Path, change) -> None:
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _mask_holder(doc: dict) -> None:
    (holder,) = [p for p in doc["schema"][0]["properties"] if p["name"] == "holder"]
    holder["customProperties"] = [{"property": "masking", "value": "hash"}]


def _unmask(doc: dict) -> None:
    """The scaffold masked the pii columns it copied; the team wants the names as they are."""
    for prop in doc["schema"][0]["properties"]:
        prop.pop("customProperties", None)


def _grant_to_vip_only(doc: dict) -> None:
    doc["roles"] = [{"role": "vip_pii_reader", "access": "read", "description": "vip's own analysts.",
                     "customProperties": [{"property": "grantedTo", "value": ["vip"]}]}]


@pytest.fixture(scope="module")
def vip(seeded_env, tmp_path_factory):
    """A copy of the mesh where customers granted vip its restricted port, and vip scaffolded every
    variant, wrote its SQL and synced its contract, as a team does: `mesh new`, SQL, `mesh contract sync`."""
    tmp = tmp_path_factory.mktemp("vip")
    root = mesh_copy(tmp)
    env = fresh_home(seeded_env, tmp, root)
    edit(root / "domains" / "customers" / "products" / "customer_profiles" / "customer_profiles_full.odcs.yaml",
         "    value:\n    - finance\n", "    value:\n    - finance\n    - vip\n")
    mesh("new", "domain", "vip", env=env)
    for product, (sql, _) in VARIANTS.items():
        reads = ["--from-port", FULL] + (["--from-port", ORDERS] if "sales" in sql else [])
        mesh("new", "product", "vip", product, *reads, env=env)
        (root / "dbt_projects" / "vip" / "models" / f"{product}.sql").write_text(sql)
        mesh("contract", "sync", str(_contract(root, product)), env=env)
    _edit_contract(_contract(root, "masked_holders"), _mask_holder)
    _edit_contract(_contract(root, "granted_holders"), _grant_to_vip_only)
    _edit_contract(_contract(root, "everything"), _unmask)
    return root, env


def test_the_sync_writes_the_inherited_classification_never_internal(vip):
    root, _ = vip
    written = {p["name"]: p["classification"] for p in yaml.safe_load(_contract(root, "big_spenders").read_text())["schema"][0]["properties"]}
    assert written == {"c_name": "pii", "c_custkey": "internal", "o_orderkey": "internal", "o_totalprice": "internal"}


def test_mesh_check_names_each_leaking_column_and_its_origin(vip):
    root, env = vip
    result = mesh("check", "--json", env=env, check=False)
    assert result.returncode == 1, result.stdout
    found = [p for p in json.loads(result.stdout) if p["policy"] == "classification-lineage"]
    flagged = {(Path(p["file"]).parent.name, p["field"]) for p in found}
    expected = {(product, "schema[0].physicalName") for product, (_, leaks) in VARIANTS.items() if leaks == UNTRACEABLE}
    expected |= {(product, f"schema[0].properties[{_position(root, product, column)}].classification")
                 for product, (_, leaks) in VARIANTS.items() if leaks != UNTRACEABLE for column in leaks}
    assert flagged == expected, json.dumps(found, indent=1)
    # Each on the line of the column's classification, in its contract.
    columns = [p for p in found if p["field"].endswith(".classification")]
    assert all(Path(p["file"]) == _contract(root, Path(p["file"]).parent.name) for p in found)
    assert all(Path(p["file"]).read_text().splitlines()[p["line"] - 1].startswith("    classification: ") for p in columns)
    (pattern,) = [p["message"] for p in found if p["field"] == "schema[0].physicalName"]
    assert pattern == ("the column lineage of dbt model by_pattern cannot be traced (its traced SQL makes no column name, nation_key), so the platform cannot "
                       "tell which of its columns carry customers.customer_profiles_full_v1.address, customers.customer_profiles_full_v1.name, "
                       "customers.customer_profiles_full_v1.phone: select each column by name"), pattern
    (big,) = [p["message"] for p in found if "big_spenders" in p["file"]]
    assert big.startswith("c_name inherits pii from customers.customer_profiles_full_v1.name (pii, copied); customers grants "
                          "customers.customer_profiles_full_v1 only to finance, vip, this port shows name to every domain (role mesh_reader)"), big
    assert big.endswith(": mask it (customProperties masking: hash or redact), or restrict the port's roles to domains granted "
                        "customers.customer_profiles_full_v1"), big
    (reach,) = [p["message"] for p in found if "shouting" in p["file"] and p["message"].startswith("reach")]
    assert "customers.customer_profiles_full_v1.address (pii, transformed), customers.customer_profiles_full_v1.phone (pii, transformed)" in reach
    # Nothing else of vip is a violation: the passing variants pass every policy.
    assert [p for p in json.loads(result.stdout) if p["severity"] == "error" and p not in found] == []


def _position(root: Path, product: str, column: str) -> int:
    names = [p["name"] for p in yaml.safe_load(_contract(root, product).read_text())["schema"][0]["properties"]]
    return names.index(column)


def test_the_run_publishes_nothing_of_a_leaking_port(vip, seeded_env, tmp_path):
    """The new user's domain as it was: the renamed name its only product."""
    root = tmp_path / "mesh"
    shutil.copytree(vip[0], root)
    for product in set(VARIANTS) - {"big_spenders"}:
        shutil.rmtree(root / "domains" / "vip" / "products" / product)
        (root / "dbt_projects" / "vip" / "models" / f"{product}.sql").unlink()
    env = fresh_home(seeded_env, tmp_path, root)
    mesh("run", "--domain", "customers", "--domain", "sales", env=env)
    result = mesh("run", "--domain", "vip", env=env, check=False)
    assert result.returncode != 0
    assert "[classification-lineage] c_name inherits pii from customers.customer_profiles_full_v1.name" in result.stderr, result.stderr[-3000:]
    with ports.port_catalog(env) as catalog:
        published = catalog.ports()
    assert ("customers", "customer_profiles_full_v1") in published
    assert [key for key in published if key[0] == "vip"] == []


# A code location loaded while its producer's column was internal, whose producer then classifies
# it pii: the run (from that same location) refuses the port before publishing it.
STALE_LOCATION = """
import json, subprocess, sys
from pathlib import Path
from dagster import DagsterInstance
from platform_lib.runs.mesh_run import load_definitions

folder, contract, mesh = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
defs = load_definitions(folder)
text = contract.read_text()
comment = text.index("  - name: comment")
contract.write_text(text[:comment] + text[comment:].replace("classification: internal", "classification: pii", 1))
subprocess.run([mesh, "run", "--domain", "customers"], check=True, capture_output=True)
with DagsterInstance.get() as instance:
    result = defs.resolve_job_def("vip_products").execute_in_process(instance=instance, raise_on_error=False)
    checks = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    print(json.dumps({"success": result.success,
                      "checks": {c.check_name: [c.passed, str(c.metadata.get("observed").value)] for c in checks}}))
"""


def test_a_run_refuses_a_port_whose_producer_classified_its_column_higher_since_the_location_loaded(seeded_env, tmp_path):
    root = mesh_copy(tmp_path)
    env = fresh_home(seeded_env, tmp_path, root)
    full = root / "domains" / "customers" / "products" / "customer_profiles" / "customer_profiles_full.odcs.yaml"
    edit(full, "    value:\n    - finance\n", "    value:\n    - finance\n    - vip\n")
    mesh("new", "domain", "vip", env=env)
    mesh("new", "product", "vip", "remarks", "--from-port", FULL, env=env)
    (root / "dbt_projects" / "vip" / "models" / "remarks.sql").write_text(f"select customer_key, comment as remark from {SOURCE}\n")
    mesh("contract", "sync", str(_contract(root, "remarks")), env=env)
    assert "mesh check: 0 violations" in mesh("check", env=env).stdout
    mesh("run", "--domain", "customers", "--domain", "sales", env=env)

    result = subprocess.run([sys.executable, "-c", STALE_LOCATION, str(root / "domains" / "vip"), str(full), str(BIN / "mesh")],
                            cwd=REPO, env={**env, "DAGSTER_HOME": str(Path(env["MESH_HOME"]) / "dagster")},
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome["success"] is False
    passed, observed = outcome["checks"]["classification_lineage"]
    assert passed is False
    assert observed.startswith("schema[0].properties[1].classification: remark inherits pii from customers.customer_profiles_full_v1.comment "
                               "(pii, copied)"), observed
    assert ports.current(env, ("vip", "remarks_v1")) is None
