"""A domain's dbt run reaches only what it may read: the files bound for the run.

Marketing is granted customers' customer_profiles, not customer_profiles_full. A model that reads the
restricted port's files (or any other file) itself is refused twice: `mesh check` (and a location's
load) names the file-reading SQL, and a read the policy cannot see fails in DuckDB, fenced to the
files its run bound."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from platform_lib.dbt.files import write_dbt_files
from platform_lib.descriptors.domain import load_domain
from platform_lib.ports.binding import FENCE_PLUGIN, UnboundSource, require_profile
from tests.conftest import TEST_SCALE_FACTOR, mesh_env
from tests.support.mesh_copy import edit, mesh_copy
from tests.support.processes import mesh

POLICY = "dbt-file-access"
RESTRICTED_FILES = "{{ env_var('MESH_HOME') }}/ports/warehouse/customers/customer_profiles_full_v1/data/*.parquet"
OTHER_DOMAINS_SOURCE = "{{ env_var('MESH_HOME') }}/sources/sales/orders.parquet"


@pytest.fixture(scope="module")
def producers(tmp_path_factory) -> dict:
    """Marketing's producers published: sales, and customers with the restricted port (their own
    runs fenced as well, to the operational sources they bound)."""
    env = mesh_env(tmp_path_factory.mktemp("fence_home"))
    mesh("seed", "--sf", str(TEST_SCALE_FACTOR), env=env)
    mesh("run", "--domain", "sales", "--domain", "customers", env=env)
    return env


def marketing(root: Path) -> Path:
    return root / "dbt_projects" / "marketing"


def add_files(project: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)


def findings(root: Path, env: dict) -> list[dict]:
    """The policy's findings of `mesh check` on the copy, once its dbt projects are parsed again."""
    env = {**env, "MESH_ROOT": str(root)}
    mesh("prepare", env=env)
    result = mesh("check", "--json", str(root), env=env, check=False)
    return [f for f in json.loads(result.stdout) if f["policy"] == POLICY]


def test_mesh_check_names_each_file_reading_statement_with_its_file_and_line(tmp_path):
    root = mesh_copy(tmp_path)
    project = marketing(root)
    add_files(project, {
        "models/leak.sql": f"-- a comment saying read_parquet( or copy to is no finding\nselect * from parquet_scan('{RESTRICTED_FILES}')\n",
        "models/passwd.sql": "select 'load this' as note\nunion all\nselect column0 from read_csv('/etc/passwd')\n",
        "models/replacement_scan.sql": f"select * from '{OTHER_DOMAINS_SOURCE}'\n",
        "models/quiet.sql": "/* read_csv('/etc/passwd') */ {# attach 'x' #}\nselect 1 as copy_count, 'copy to' as note\n",
        "macros/export.sql": "{% macro export_profiles() %}\n  {% do run_query(\"COPY (select 1) TO '/tmp/profiles.csv'\") %}\n{% endmacro %}\n",
    })
    edit(project / "dbt_project.yml", "profile: marketing\n", "profile: marketing\non-run-start:\n  - \"attach '/tmp/other.duckdb' as other\"\n")
    found = {(Path(f["file"]).relative_to(project).as_posix(), f["line"]): f for f in findings(root, mesh_env(tmp_path / "home"))}
    assert set(found) == {
        ("models/leak.sql", 2), ("models/passwd.sql", 3), ("models/replacement_scan.sql", 1),
        ("macros/export.sql", 2), ("dbt_project.yml", 5),
    }
    leak = found["models/leak.sql", 2]
    assert leak["severity"] == "error" and leak["field"] == "model leak"
    assert leak["message"].startswith("parquet_scan() reads files directly: declare a dbt source bound through an input port or an operational source")


def hidden_reads(project: Path) -> None:
    """Reads `mesh check` cannot see: the function's name is made by Jinja."""
    def hidden(function: str, path: str) -> str:
        return f"{{% set reader = '{function[:5]}' ~ '{function[5:]}' %}}\nselect * from {{{{ reader }}}}('{path}')\n"

    add_files(project, {
        "models/leak_port.sql": hidden("read_parquet", RESTRICTED_FILES),
        "models/leak_passwd.sql": hidden("read_csv", "/etc/passwd"),
        "models/leak_source.sql": hidden("read_parquet", OTHER_DOMAINS_SOURCE),
    })
    (project / "target" / "manifest.json").unlink()  # the run's location parses the project again


def relations(home: str, domain: str) -> set[str]:
    with duckdb.connect(str(Path(home) / "warehouse" / f"{domain}.duckdb"), read_only=True) as con:
        return {name for (name,) in con.execute("select table_name from information_schema.tables").fetchall()}


def test_a_read_the_policy_cannot_see_is_refused_by_the_fence(tmp_path, producers):
    root = mesh_copy(tmp_path)
    hidden_reads(marketing(root))
    # Forced: the models added feed no port, which an incremental run leaves alone.
    result = mesh("run", "--domain", "marketing", "--force", env={**producers, "MESH_ROOT": str(root)}, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    home = producers["MESH_HOME"]
    for path in (f"{home}/ports/warehouse/customers/customer_profiles_full_v1/data/*.parquet", "/etc/passwd", f"{home}/sources/sales/orders.parquet"):
        assert f'Permission Error: Cannot access file "{path}" - file system operations are disabled by configuration' in output, output[-5000:]
    built = relations(home, "marketing")
    # Nothing of those files was read; the models over marketing's granted ports were built.
    assert not {"leak_port", "leak_passwd", "leak_source"} & built
    assert {"global_sales_opportunity", "customer_order_distribution"} <= built


def without_the_fence(profile: Path) -> None:
    text = profile.read_text()
    profile.write_text(text.replace(text[text.index("      # The platform's fence"):text.index("      secrets:")], ""))


def test_a_profile_edited_to_drop_the_fence_is_written_again_before_the_run(tmp_path, producers):
    root = mesh_copy(tmp_path)
    profile = marketing(root) / "profiles.yml"
    mesh("prepare", env={**producers, "MESH_ROOT": str(root)})
    without_the_fence(profile)
    hidden_reads(marketing(root))
    result = mesh("run", "--domain", "marketing", "--force", env={**producers, "MESH_ROOT": str(root)}, check=False)
    # The profile is the platform's: the run wrote it again, with the fence, which refused the reads.
    assert f"- module: {FENCE_PLUGIN}" in profile.read_text()
    assert result.returncode == 1 and "file system operations are disabled by configuration" in result.stderr, result.stderr[-3000:]


@pytest.mark.unit
def test_a_run_refuses_a_profile_without_the_fence(tmp_path):
    """What a location launched from the UI meets if the profile was edited after `mesh prepare`."""
    root = mesh_copy(tmp_path)
    profile = marketing(root) / "profiles.yml"
    write_dbt_files(marketing(root))
    without_the_fence(profile)
    with pytest.raises(UnboundSource) as refused:
        require_profile(load_domain(root / "domains" / "marketing"))
    assert str(refused.value).startswith(f"{profile}:") and "marketing.outputs.mesh.plugins: the platform's fence is missing" in str(refused.value)
