"""A port is an Iceberg table any engine reads: the snippet of docs/deployment.md, run as written
against a published mesh, reads sales.orders_v1 with pyiceberg, and with DuckDB by catalog name and
by metadata path."""

from __future__ import annotations

import re
import subprocess

from tests.support import ports
from tests.support.processes import BIN, REPO

HEADING = "## Reading a port from outside the mesh"


def snippet() -> str:
    text = (REPO / "docs" / "deployment.md").read_text()
    section = text[text.index(HEADING):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_documented_snippet_reads_a_port_with_pyiceberg_and_duckdb(mesh_run, tmp_path):
    result = subprocess.run([str(BIN / "python"), "-c", snippet()], cwd=tmp_path, env=mesh_run,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = ports.current(mesh_run, ("sales", "orders_v1")).facts["row-count"]
    assert rows > 0
    assert result.stdout.splitlines() == [f"pyiceberg: {rows}", f"duckdb by catalog name: {rows}", f"duckdb by metadata path: {rows}"]
