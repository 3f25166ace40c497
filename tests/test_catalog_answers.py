"""Clumsy input gets a clean answer (issue 19): a read-only command creates nothing, and a port
catalog where nothing answers is one line naming its URI (password hidden) and what to do."""

from __future__ import annotations

import pytest

from tests.conftest import mesh_env
from tests.support.free_ports import free_port
from tests.support.processes import mesh
from tests.test_cli_run import fresh_home


def files_under(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_mesh_ports_on_an_empty_home_creates_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    result = mesh("ports", "--json", env=mesh_env(home))
    assert result.stdout.strip() == "[]"
    assert files_under(home) == []


@pytest.mark.parametrize("command", [["ports"], ["run", "--domain", "sales"]])
def test_an_unreachable_catalog_is_one_line_naming_it(seeded_env, tmp_path, command):
    nothing = f"postgresql+psycopg2://postgres:s3cret@127.0.0.1:{free_port()}/mesh_ports"
    env = {**fresh_home(seeded_env, tmp_path), "MESH_PORT_CATALOG": nothing}
    result = mesh(*command, env=env, check=False)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"mesh {command[0]}: the port catalog postgresql+psycopg2://postgres:***@127.0.0.1:"), line
    assert "s3cret" not in line and "MESH_PORT_CATALOG" in line, line
