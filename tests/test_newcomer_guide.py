"""A newcomer's aggregate product, made with docs/adding-a-domain.md alone: the guide's commands, its
SQL and its dbt var, then a description written wherever the sync left a TODO. No column list and no
physical type is typed by hand: the contract's columns come from the model, `mesh check` is clean
and the run publishes the port."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import yaml

from tests.support.guide import blocks, section
from tests.support.mesh_copy import mesh_copy
from tests.support.processes import BIN, mesh
from tests.test_cli_run import fresh_home


def command(text: str, *start: str) -> list[str]:
    """The section's one shell command that starts with these words."""
    lines = [shlex.split(line, comments=True) for block in blocks(text, "sh") for line in block.replace("\\\n", " ").splitlines()]
    (found,) = [words for words in lines if tuple(words[:len(start)]) == start]
    return found


def run_in(root: Path, env: dict, words: list[str]) -> subprocess.CompletedProcess:
    """A command of the guide as a newcomer types it, in the mesh's folder."""
    assert words[0] == "mesh"
    result = subprocess.run([str(BIN / "mesh"), *words[1:]], cwd=root, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(words)} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


GUIDE = section("An aggregate product")


def synced_product(seeded_env, tmp_path) -> tuple[Path, dict]:
    """The guide's steps up to `mesh contract sync`: the new domain, its product's SQL and dbt var,
    and the draft contract synced from the model. The mesh's folder and environment."""
    root = mesh_copy(tmp_path)
    env = fresh_home(seeded_env, tmp_path, root)
    run_in(root, env, command(section("2. Create the domain"), "mesh", "new", "domain"))
    # The guide's first step published every domain; the product reads two of them.
    run_in(root, env, ["mesh", "run", "--domain", "sales", "--domain", "customers"])
    run_in(root, env, command(GUIDE, "mesh", "new", "product"))
    (sql,) = blocks(GUIDE, "sql")
    (root / "dbt_projects" / "loyalty" / "models" / "segment_spend.sql").write_text(sql)
    with open(root / "dbt_projects" / "loyalty" / "dbt_project.yml", "a") as project:
        project.write("\n" + blocks(GUIDE, "yaml")[0])
    run_in(root, env, command(GUIDE, "mesh", "contract", "sync"))
    return root, env


def test_an_aggregate_product_made_with_the_guide_alone(seeded_env, tmp_path):
    root, env = synced_product(seeded_env, tmp_path)
    guide, synced = GUIDE, blocks(GUIDE, "yaml")[1]
    contract = root / "domains" / "loyalty" / "products" / "segment_spend" / "segment_spend.odcs.yaml"
    assert yaml.safe_load(contract.read_text())["schema"][0]["properties"] == yaml.safe_load(synced)
    # The newcomer's own part: what each column means.
    described = re.sub(r"'TODO: describe (\w+)'", r"What \1 says about the segment's orders since loyalty_since.", contract.read_text())
    contract.write_text(described)
    assert "TODO" not in described

    assert "mesh check: 0 violations" in run_in(root, env, command(guide, "mesh", "check")).stdout
    run_in(root, env, command(guide, "mesh", "run"))
    published = {p["table"]: p for p in json.loads(mesh("ports", "--json", env=env).stdout)}
    assert published["loyalty.segment_spend_v1"]["row_count"] == 5
