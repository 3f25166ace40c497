from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType

import pytest

from tests.support.processes import mesh

# MESH_TEST_SF=0.1 runs the suite against a larger mesh; official answers exist at 0.01, 0.1 and 1.
TEST_SCALE_FACTOR = float(os.environ.get("MESH_TEST_SF", "0.01"))


def mesh_env(home) -> dict:
    # Nothing of the developer's own mesh: its instance, port catalog, warehouse or identity.
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("MESH_")}
    env["MESH_HOME"] = str(home)
    return env


def pytest_ignore_collect(collection_path, config):
    """`pytest -m unit` does not even import a test module without a unit test: the imports of the
    others (pyiceberg, hypothesis, playwright...) would cost the fast layer seconds for tests it
    deselects anyway. Any other selection collects every module."""
    if config.getoption("markexpr") == "unit" and collection_path.name.startswith("test_") and collection_path.suffix == ".py":
        return "mark.unit" not in collection_path.read_text()
    return None


# The modules that take longest, in this order before all others: on `make test`'s two workers
# (Makefile) each starts beside the rest instead of ending the run alone.
SLOWEST_FIRST = ("test_deployment.py", "test_spark_domain.py", "test_classification_lineage.py")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: SLOWEST_FIRST.index(item.path.name) if item.path.name in SLOWEST_FIRST else len(SLOWEST_FIRST))


# The session fixtures are shared by every test that asks for them: read-only, so that no test can
# change what another one sees, whichever runs first.
@pytest.fixture(scope="session")
def seeded_env(tmp_path_factory) -> Mapping[str, str]:
    """A fresh MESH_HOME with TPC-H operational sources at the test scale factor."""
    env = mesh_env(tmp_path_factory.mktemp("mesh_home"))
    mesh("seed", "--sf", str(TEST_SCALE_FACTOR), env=env)
    return MappingProxyType(env)


@pytest.fixture(scope="session")
def mesh_run(seeded_env) -> Mapping[str, str]:
    """The whole mesh materialized once through `mesh run`: the environment it ran in, with the
    run's stderr as MESH_RUN_LOG. seeded_env itself is left as it was."""
    # Forced: every port published by this run, whatever other tests ran on seeded_env before.
    result = mesh("run", "--force", env=seeded_env)
    return MappingProxyType({**seeded_env, "MESH_RUN_LOG": result.stderr})


@pytest.fixture(scope="session")
def location_graphs(tmp_path_factory) -> Mapping:
    """Location name -> the asset graph it defines, every location of workspace.yaml loaded once in
    this process (as Dagster loads it) against a MESH_HOME of its own."""
    # Imported here: Dagster, for the tests that load locations only, not for every pytest run.
    from tests.support.locations import load_location_graphs

    return MappingProxyType(load_location_graphs(mesh_env(tmp_path_factory.mktemp("locations"))))


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """A Spark standalone cluster (a master, two one-core workers), started for the session's first
    test that asks for it and stopped at its end."""
    from tests.support.spark import spark_cluster

    with spark_cluster(tmp_path_factory.mktemp("spark")) as plan:
        yield plan
