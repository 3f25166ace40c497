from __future__ import annotations

import os

import pytest

from tests.support.processes import mesh

# MESH_TEST_SF=0.1 runs the suite against a larger mesh; official answers exist at 0.01, 0.1 and 1.
TEST_SCALE_FACTOR = float(os.environ.get("MESH_TEST_SF", "0.01"))


def mesh_env(home) -> dict:
    # Nothing of the developer's own mesh: its instance, port catalog, warehouse or identity.
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("MESH_")}
    env["MESH_HOME"] = str(home)
    return env


@pytest.fixture(scope="session")
def seeded_env(tmp_path_factory) -> dict:
    """A fresh MESH_HOME with TPC-H operational sources at the test scale factor."""
    env = mesh_env(tmp_path_factory.mktemp("mesh_home"))
    mesh("seed", "--sf", str(TEST_SCALE_FACTOR), env=env)
    return env


@pytest.fixture(scope="session")
def mesh_run(seeded_env) -> dict:
    """The whole mesh materialized once through `mesh run`; yields the environment it ran in."""
    result = mesh("run", env=seeded_env)
    seeded_env["MESH_RUN_LOG"] = result.stderr
    return seeded_env
