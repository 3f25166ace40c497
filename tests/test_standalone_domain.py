"""A domain stands alone: finance deployed from a folder holding only `platform_lib`, its own two
folders and a one-location workspace loads, runs and publishes against the port catalog where its
producers published, and is refused at load a port whose published grants leave it out."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import TEST_SCALE_FACTOR, mesh_env
from tests.support import ports
from tests.support.processes import BIN, REPO, mesh
from tests.support.tpch import TPCH_PRODUCTS, differences

FINANCE_PRODUCTS = {product: query for (domain, product), query in TPCH_PRODUCTS.items() if domain == "finance"}
WORKSPACE = """load_from:
  - python_file:
      relative_path: domains/finance/definitions.py
      location_name: finance
      working_directory: .
"""


def finance_alone(folder: Path) -> Path:
    """What finance's own repository would hold: the platform, its two folders, its workspace."""
    folder.mkdir()
    shutil.copytree(REPO / "platform_lib", folder / "platform_lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "domains" / "finance", folder / "domains" / "finance", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "dbt_projects" / "finance", folder / "dbt_projects" / "finance", ignore=shutil.ignore_patterns("target", "logs"))
    (folder / "workspace.yaml").write_text(WORKSPACE)
    return folder


def env_for(folder: Path, home: Path, catalog: str, warehouse: str) -> dict:
    env = mesh_env(home)
    # The copy's platform_lib, not the installed one, and the copy as the mesh the CLI works on.
    env.update(PYTHONPATH=str(folder), MESH_ROOT=str(folder), MESH_PORT_CATALOG=catalog, MESH_PORT_WAREHOUSE=warehouse)
    return env


def run(folder: Path, env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(BIN / "python"), "-m", "platform_lib.cli.main", *args], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"mesh {' '.join(args)} exited {result.returncode}\n{result.stderr[-5000:]}")
    return result


@pytest.fixture(scope="module")
def producers(tmp_path_factory) -> dict:
    """sales, customers and supply published in a port catalog, from the repository's mesh."""
    env = mesh_env(tmp_path_factory.mktemp("producers"))
    mesh("seed", "--sf", str(TEST_SCALE_FACTOR), env=env)
    mesh("run", "--domain", "sales", "--domain", "customers", "--domain", "supply", env=env)
    return env


@pytest.fixture(scope="module")
def finance(tmp_path_factory, producers) -> tuple[Path, dict]:
    folder = finance_alone(tmp_path_factory.mktemp("finance_repo") / "finance")
    published = Path(producers["MESH_HOME"]) / "ports"
    env = env_for(folder, tmp_path_factory.mktemp("finance_home"), f"sqlite:///{published / 'catalog.db'}", (published / "warehouse").as_uri())
    run(folder, env, "run")
    return folder, env


def test_the_copy_holds_no_other_domain_and_runs_its_own_platform(finance):
    folder, env = finance
    assert sorted(p.name for p in (folder / "domains").iterdir()) == ["finance"]
    assert sorted(p.name for p in (folder / "dbt_projects").iterdir()) == ["finance"]
    imported = subprocess.run([str(BIN / "python"), "-c", "import platform_lib; print(platform_lib.__file__)"],
                                            cwd=folder, env=env, capture_output=True, text=True).stdout
    assert Path(imported).is_relative_to(folder)


def test_finance_publishes_its_products_equal_to_the_tpch_answers(finance, producers):
    _, env = finance
    for product, query in FINANCE_PRODUCTS.items():
        published = ports.read_port(env, ("finance", f"{product}_v1"))
        assert differences(published, query, TEST_SCALE_FACTOR) == [], f"finance.{product} (Q{query})"
    # Published into the producers' catalog, beside them: a consumer elsewhere could bind to it.
    assert ports.current(producers, ("finance", "shipping_priority_v1")) is not None


def test_a_port_whose_published_grants_leave_finance_out_is_refused_at_load(finance, tmp_path):
    folder, env = finance
    # A copy of the catalog in which customers republished its restricted port without finance's grant.
    catalog = Path(env["MESH_PORT_CATALOG"].removeprefix("sqlite:///"))
    revoked = tmp_path / "catalog.db"
    with sqlite3.connect(catalog) as src, sqlite3.connect(revoked) as dst:
        src.backup(dst)
    env = {**env, "MESH_PORT_CATALOG": f"sqlite:///{revoked}"}
    with ports.port_catalog(env) as copy:
        table = copy.table(("customers", "customer_profiles_full_v1"))
        contract = yaml.safe_load(table.properties["mesh.contract"])
        for role in contract["roles"]:
            for prop in role.get("customProperties", []):
                if prop["property"] == "grantedTo":
                    prop["value"] = [d for d in prop["value"] if d != "finance"]
        with table.transaction() as tx:
            tx.set_properties(**{"mesh.contract": yaml.safe_dump(contract, sort_keys=False)})
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "[port-access] domain finance is not granted role customer_pii_reader on urn:mesh:contract:customers:customer_profiles_full" in output, output[-3000:]
    assert "request role customer_pii_reader from the customers domain (customer-data@mesh.example, #customers-data)" in output
    # `mesh run` of the domain stops at the same gate, before anything runs.
    result = run(folder, env, "run", check=False)
    assert result.returncode == 1 and "domain finance is not granted role customer_pii_reader" in result.stderr
