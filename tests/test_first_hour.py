"""A newcomer's first hour without a stumble (issue 22): each stumble a user met, replayed as they met it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from contextlib import suppress
from pathlib import Path

import pytest

from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.product import InputPort
from platform_lib.mesh import load_mesh
from platform_lib.scaffold.product import Upstream, plan_product, resolve_port
from tests.conftest import mesh_env
from tests.support.free_ports import free_port
from tests.support.guide import blocks, section
from tests.support.mesh_copy import edit, line_of, mesh_copy
from tests.support.processes import BIN, REPO, graphql, mesh

LOCATIONS = len(load_mesh().domains) + 1  # the domains and the platform's governance


def started_for(home: Path) -> dict[int, str]:
    """pid -> command of every process whose environment names this MESH_HOME: all `mesh ui` started."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            environ = Path(entry.path, "environ").read_bytes().split(b"\0")
            command = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"MESH_HOME={home}".encode() in environ:
            found[int(entry.name)] = command[:120]
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("started_as", ["foreground", "background job"])
def test_one_ctrl_c_stops_mesh_ui_and_everything_it_started_within_10_s(tmp_path, started_as):
    """Stumble 1: a Ctrl-C (SIGINT to the process group) freed the UI's port but left 21-23 Dagster
    processes running two minutes later: dg dev, and per location a code server, its gRPC server and
    a resource tracker. That is what a non-interactive shell's background job (`make demo &`) does:
    it starts with SIGINT ignored, and every process inherits the ignore."""
    home = tmp_path / "home"
    env = {**mesh_env(home), "DAGSTER_HOME": str(home / "dagster")}
    Path(env["DAGSTER_HOME"]).mkdir(parents=True)
    port = free_port()
    log = open(tmp_path / "ui.log", "w")
    # A terminal runs the command in a process group of its own and sends Ctrl-C to that group.
    ignore_interrupts = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if started_as == "background job" else None
    ui = subprocess.Popen([str(BIN / "mesh"), "ui", "--port", str(port)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                          process_group=0, preexec_fn=ignore_interrupts)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            assert ui.poll() is None, (tmp_path / "ui.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=2)
                entries = graphql(url, "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }")["workspaceOrError"]["locationEntries"]
                if [e["loadStatus"] for e in entries].count("LOADED") == LOCATIONS:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the UI did not load every location in 240 s"
            time.sleep(1)
        started = started_for(home)
        # mesh ui, dg dev, the webserver, the daemon, and code servers for the locations.
        assert len(started) >= 4 + LOCATIONS, started

        os.killpg(ui.pid, signal.SIGINT)
        stopped_by = time.monotonic() + 10
        while any(map(alive, started)) and time.monotonic() < stopped_by:
            time.sleep(0.2)
        left = {pid: command for pid, command in started.items() if alive(pid)}
        assert not left, f"{len(left)} of {len(started)} processes still run 10 s after Ctrl-C: {left}"
        assert ui.wait(timeout=5) is not None
    finally:
        for pid in started_for(home):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.close()


@pytest.mark.unit
def test_mesh_new_product_finds_the_shared_key_whichever_port_comes_first():
    """Stumble 6: `--from-port` customer profiles then orders said "These ports share no key with the
    ones before them", where orders then customer profiles joined on customer_key."""
    mesh = load_mesh()
    orders, profiles = (resolve_port(mesh, f"urn:mesh:contract:{c}") for c in ("sales:orders", "customers:customer_profiles"))
    for ports in ([orders, profiles], [profiles, orders]):
        plan = plan_product([Upstream(p, "mesh_reader", p.domain, p.name) for p in ports])
        assert not plan.unjoined and [[name for name, _ in join.on] for join in plan.joins] == [["customer_key"]], [p.name for p in ports]
    # A profile joined to its orders is a row per order: the order joins the key.
    assert (plan.key, plan.fans_out) == (("customer_key", "order_key"), True)


@pytest.mark.unit
def test_the_guide_shows_how_to_load_the_official_tpch_answers_offline(tmp_path):
    """Stumble 9: the docs said DuckDB's tpch extension works offline, but not how to load it;
    `INSTALL tpch` fails offline. The guide's snippet runs as written and prints Q18's answer."""
    (snippet,) = blocks(section("A TPC-H product: its official answer"), "python")
    (tmp_path / "answer.py").write_text(snippet)
    printed = subprocess.run([str(BIN / "python"), "answer.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert printed.returncode == 0, printed.stderr
    header, *rows = printed.stdout.strip().splitlines()
    assert header == "c_name|c_custkey|o_orderkey|o_orderdate|o_totalprice|sum" and rows, printed.stdout


@pytest.mark.unit
def test_every_commands_help_shows_the_defaults_it_runs_with():
    """Stumble 7 (in part): `mesh up --help` did not show its defaults."""
    shown = {command: subprocess.run([str(BIN / "mesh"), *command.split(), "--help"], capture_output=True, text=True, timeout=60).stdout
             for command in ("up", "ui", "seed", "new domain")}
    assert all(f"(default: {value})" in " ".join(shown["up"].split()) for value in (3000, 4100, "mesh")), shown["up"]
    assert "(default: 127.0.0.1)" in shown["ui"] and "(default: 0.1)" in shown["seed"] and "(default: 0 7 * * *)" in shown["new domain"]
    assert "(default: None)" not in "".join(shown.values()) and "(default: False)" not in "".join(shown.values())


def test_catalog_show_says_who_may_read_a_port_and_whom_to_ask(tmp_path):
    """Stumble 8: `mesh catalog show` listed a port's columns but not who may read it."""
    shown = subprocess.run([str(BIN / "mesh"), "catalog", "show", "urn:mesh:contract:customers:customer_profiles_full"], cwd=REPO,
                           env=mesh_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "  who may read: role customer_pii_reader, granted to finance; ask the customers domain (customer-data@mesh.example, #customers-data)" \
        in shown.stdout, shown.stdout
    public = subprocess.run([str(BIN / "mesh"), "catalog", "show", "urn:mesh:contract:sales:orders"], cwd=REPO,
                            env=mesh_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert "  who may read: role mesh_reader, every domain" in public.stdout, public.stdout


@pytest.mark.unit
@pytest.mark.parametrize(("file", "written", "typo", "suggested"), [
    ("orders.odcs.yaml", "    required: true\n", "    requried: true\n", "schema[0].properties[0].requried: unknown field 'requried' (not in ODCS v3.1.0): did you mean 'required'?"),
    ("product.odps.yaml", "  contractId: urn:mesh:contract:sales:orders\n", "  contractid: urn:mesh:contract:sales:orders\n",
     "outputPorts[0].contractid: unknown field (not in ODPS v1.0.0): did you mean 'contractId'?"),
])
def test_a_misspelt_key_is_one_violation_with_a_did_you_mean(tmp_path, file, written, typo, suggested):
    """Stumble 3 (in part): no "did you mean" for a key (`requried`), and a misspelt key was also
    reported as the key it should have been, missing."""
    folder = tmp_path / "orders"
    shutil.copytree(REPO / "domains" / "sales" / "products" / "orders", folder)
    path = folder / file
    text = path.read_text()
    path.write_text(text.replace(written, typo, 1))
    checked = subprocess.run([str(BIN / "mesh"), "check", str(path)], capture_output=True, text=True, timeout=60)
    line = text[:text.index(written)].count("\n") + 1
    problems = [row for row in checked.stdout.splitlines() if re.match(rf"{re.escape(str(path))}:\d+:", row)]
    assert problems == [f"{path}:{line}: {suggested}"], checked.stdout


@pytest.mark.unit
def test_an_input_port_to_a_mistyped_contract_id_gets_a_did_you_mean():
    """Stumble 3 (in part): no "did you mean" for a contract id."""
    mesh = load_mesh()
    port = InputPort(name="supply_part_supply", contract_id="urn:mesh:contract:supply:part_suply", major=1, role="mesh_reader",
                     place=next(p for d in mesh.domains for p in d.input_ports).place)
    with pytest.raises(DescriptorError) as refused:
        mesh.producer_port(port)
    assert refused.value.problems[0].message == ("no output port in the mesh publishes contract 'urn:mesh:contract:supply:part_suply' at major version 1 "
                                                 "(did you mean 'urn:mesh:contract:supply:part_supply'?)")


def test_a_broken_product_fails_alone_and_its_siblings_publish(seeded_env, tmp_path):
    """Stumble 2: a type mismatch in one product failed its domain's dbt step, and the domain's
    other, healthy products were not published either."""
    root = mesh_copy(tmp_path)
    sql = root / "dbt_projects" / "sales" / "models" / "products" / "pricing_summary.sql"
    edit(sql, "cast(avg(quantity) as double) as avg_qty", "cast(avg(quantity) as varchar) as avg_qty")
    home = tmp_path / "home"
    shutil.copytree(Path(seeded_env["MESH_HOME"]) / "sources", home / "sources")
    env = {**mesh_env(home), "MESH_ROOT": str(root)}
    result = mesh("run", "--domain", "sales", env=env, check=False)
    assert result.returncode == 1, result.stderr[-3000:]
    published = {p["asset_key"] for p in json.loads(mesh("ports", "--json", env=env).stdout)}
    assert published == {"sales/line_items_v1", "sales/orders_v1"}, result.stderr[-3000:]
    # The run's report says which product was not published, and why, in dbt's words.
    assert re.search(r"^\s+pricing_summary\s+pricing_summary_v1\s+not run\s+sales_dbt_models failed$", result.stderr, re.MULTILINE), result.stderr
    assert "| avg_qty     | VARCHAR         | DOUBLE        | data type mismatch |" in result.stderr, result.stderr


AFTER_A_DOMAIN_RUN = """
import os, signal, sys, time
from platform_lib.mesh import load_mesh
from platform_lib.runs.mesh_run import _run_domain, _selected
from platform_lib.settings import export_environment
export_environment()
mesh = load_mesh()
run = _run_domain(_selected(mesh.domain("customers"), None), mesh, False)
print("ran", run.success, flush=True)
# What the pool does to a worker still exiting when `mesh run` is done with it.
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(10)
print("survived SIGTERM", flush=True)
"""


def test_a_worker_that_ran_a_domain_dies_quietly_on_sigterm(seeded_env, tmp_path):
    """Stumble 5: `mesh run` printed `Process ForkPoolWorker-2: Traceback ... KeyboardInterrupt` in
    the middle of a successful run. Dagster's run leaves SIGTERM raising KeyboardInterrupt in the
    process that ran it; the pool's workers are such processes, and the pool ends with SIGTERM."""
    home = tmp_path / "home"
    shutil.copytree(Path(seeded_env["MESH_HOME"]) / "sources", home / "sources")
    worker = subprocess.run([str(BIN / "python"), "-c", AFTER_A_DOMAIN_RUN], cwd=REPO, env=mesh_env(home),
                            capture_output=True, text=True, timeout=300)
    assert worker.stdout.startswith("ran True"), worker.stderr[-3000:]
    assert worker.returncode == -signal.SIGTERM and "KeyboardInterrupt" not in worker.stderr, (worker.returncode, worker.stderr[-3000:])


def test_a_mistyped_input_contract_is_one_violation_on_the_users_line_everywhere(tmp_path):
    """Stumble 3: an input port to a mistyped contract id also gave a dbt compile error and a
    complaint about the generated _ports.yml; `mesh run` showed only dbt's "depends on a source
    named ... which was not found"; `mesh check product.odps.yaml` said "no problems"."""
    root = mesh_copy(tmp_path)
    descriptor = root / "domains" / "finance" / "products" / "returned_item_report" / "product.odps.yaml"
    edit(descriptor, "  contractId: urn:mesh:contract:sales:orders\n", "  contractId: urn:mesh:contract:sales:order\n")
    where = f"{descriptor}:{line_of(descriptor, '  contractId: urn:mesh:contract:sales:order')}: inputPorts[1].contractId: "
    meant = "no output port in the mesh publishes contract 'urn:mesh:contract:sales:order' at major version 1 " \
            "(did you mean 'urn:mesh:contract:sales:orders'?)"
    env = {**mesh_env(tmp_path / "home"), "MESH_ROOT": str(root)}

    whole = mesh("check", str(root), env=env, check=False)
    assert whole.returncode == 1 and f"{where}[port-binding] {meant}" in whole.stdout, whole.stdout
    assert "mesh check: 1 violation," in whole.stdout and "\x1b" not in whole.stdout + whole.stderr, whole.stdout

    alone = mesh("check", str(descriptor), env=env, check=False)
    assert alone.returncode == 1 and f"{where}{meant}" in alone.stdout, alone.stdout

    run = mesh("run", "--domain", "finance", env=env, check=False)
    assert run.returncode == 1 and f"SKIPPED  reads a port no domain publishes:\n    {where}{meant}\n" in run.stderr, run.stderr[-3000:]
    assert "which was not found" not in run.stderr and "\x1b" not in run.stderr, run.stderr[-3000:]


def _problems(root: Path, env: dict, words: list[str]) -> list[str]:
    """`mesh check`'s violations, each asserted to point at a file the newcomer wrote (its path, then its line)."""
    checked = subprocess.run([str(BIN / "mesh"), *words[1:]], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    # The mesh's standing warnings (another domain's deprecated port) are not the newcomer's.
    lines = [line for line in checked.stdout.splitlines() if not line.startswith("mesh check: ") and " warning] " not in line]
    written = ("domains/loyalty/", "dbt_projects/loyalty/models/")
    for line in lines:
        found = re.match(rf"^{re.escape(str(root))}/(\S+?):(\d+): ", line)
        assert found and found.group(1).startswith(written), f"not on a file the newcomer wrote, with its line: {line}"
    return lines


def test_a_newcomers_first_hour_with_a_typo_and_a_type_mismatch(seeded_env, tmp_path):
    """The guide's steps as a newcomer takes them, with one typo and one type mismatch on the way:
    each mistake is one message, on the file the newcomer wrote and its line, saying what to do."""
    from tests.test_newcomer_guide import GUIDE as guide
    from tests.test_newcomer_guide import command, run_in, synced_product

    root, env = synced_product(seeded_env, tmp_path)
    sql = root / "dbt_projects" / "loyalty" / "models" / "segment_spend.sql"
    contract = root / "domains" / "loyalty" / "products" / "segment_spend" / "segment_spend.odcs.yaml"
    contract.write_text(re.sub(r"'TODO: describe (\w+)'", r"What \1 says about the segment's orders.", contract.read_text()))
    check = command(guide, "mesh", "check")

    # A typo in a key of the contract.
    edit(contract, "  classification: internal\n", "  clasification: internal\n")
    (typo,) = _problems(root, env, check)
    line = next(n for n, text in enumerate(contract.read_text().splitlines(), 1) if text.strip() == "clasification: internal")
    assert typo.startswith(f"{contract}:{line}: ") and "did you mean 'classification'?" in typo, typo
    edit(contract, "  clasification: internal\n", "  classification: internal\n")

    # A model that makes a column of another type than its contract says.
    edit(sql, "    count(*) as order_count,", "    cast(count(*) as integer) as order_count,")
    (mismatch,) = _problems(root, env, check)
    assert mismatch.startswith(f"{contract}:") and f"({sql}:3)" in mismatch and "cast(... as BIGINT) as order_count" in mismatch, mismatch
    edit(sql, "    cast(count(*) as integer) as order_count,", "    count(*) as order_count,")

    assert "mesh check: 0 violations" in run_in(root, env, check).stdout
    run_in(root, env, command(guide, "mesh", "run"))
    published = {p["table"] for p in json.loads(mesh("ports", "--json", env=env).stdout)}
    assert "loyalty.segment_spend_v1" in published
