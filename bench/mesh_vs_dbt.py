"""The whole mesh at one scale factor against its two baselines, measured in the same run.

    python bench/mesh_vs_dbt.py --sf 1

On one freshly seeded MESH_HOME, one after the other: the floor (bench/floor.py: the dbt-compiled
SQL run by DuckDB alone, each port written once), plain `dbt build` of each domain's project in run
order over the same bound inputs (products materialized as tables, as dbt builds them without the
platform), `mesh run` (domains concurrently) with its phase split (bench/phases.py) and the TPC-H
answers of its ports checked, then `mesh run --parallelism 1`. Wall time and peak memory (PSS summed
over the process tree) of each, their ratios, and each code location's load time. Nothing here
asserts a time: the numbers are for reading.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _pss_bytes(pid: int) -> int:
    """Proportional set size: a page shared by n processes counts 1/n in each. Domain runs are
    forked from one parent, so summing their RSS would count the shared pages once per process."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def tree_memory_bytes(pid: int) -> int:
    """Memory of a process and all its descendants (summed PSS), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            children.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(int(entry))
        except (OSError, ValueError):
            continue
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            total += _pss_bytes(p)
        except OSError:
            pass
        stack.extend(children.get(p, []))
    return total


def sampled(cmd: list[str], env: dict, cwd: Path = REPO, every: float = 0.1, also: tuple[int, ...] = ()) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall seconds and peak tree memory of a command, sampled every `every` seconds, and its result;
    `also`: processes outside its tree whose trees count with it (a Spark cluster's JVMs)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, done = 0, threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, sum(tree_memory_bytes(pid) for pid in (proc.pid, *also)))
            time.sleep(every)

    sampler = threading.Thread(target=sample)
    sampler.start()
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return seconds, peak, subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def timed(cmd: list[str], env: dict, cwd: Path = REPO, output: list | None = None, also: tuple[int, ...] = ()) -> tuple[float, int]:
    """Wall seconds and peak tree memory of a command (`also`: as for sampled); fails loudly if the
    command fails."""
    seconds, peak, result = sampled(cmd, env, cwd, also=also)
    if result.returncode != 0:
        # Dagster's DEBUG stream buries the cause.
        told = "\n".join(line for line in result.stderr.splitlines() if " - DEBUG - " not in line)
        raise SystemExit(f"{' '.join(cmd)} failed:\n{told[-6000:]}")
    if output is not None:
        output.append(result.stderr)
    return seconds, peak


def location_load_seconds(domain: str, env: dict) -> float:
    """Seconds to build a code location's definitions, in a fresh interpreter with Dagster imported."""
    code = (
        "import time, dagster, dagster_dbt\n"
        "from platform_lib.mesh import load_mesh\n"
        "from platform_lib.runs.mesh_run import load_definitions\n"
        "folder = load_mesh().domain(" + repr(domain) + ").folder\n"
        "t = time.perf_counter()\n"
        "load_definitions(folder).resolve_asset_graph()\n"
        "print(time.perf_counter() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def plain_dbt(mesh, env: dict) -> tuple[float, int, dict]:
    """`dbt build` of each project in run order, over the sources the mesh bound (its last run's)."""
    from platform_lib.assets.dbt_project import dbt_project

    total, peak, per_domain = 0.0, 0, {}
    for name in mesh.run_order():
        project = dbt_project(mesh.domain(name).dbt_project_dir)
        # Its own target folder: the project's holds the platform's parse, which a parse without
        # the platform's vars would replace.
        target = Path(tempfile.mkdtemp(prefix=f"dbt-{name}-"))
        seconds, memory = timed(
            [str(BIN / "dbt"), "build", "--project-dir", str(project.project_dir), "--profiles-dir", str(project.profiles_dir), "--target-path", str(target)],
            env,
        )
        shutil.rmtree(target, ignore_errors=True)
        per_domain[name] = round(seconds, 2)
        total += seconds
        peak = max(peak, memory)
    return total, peak, per_domain


def tpch_differences(mesh, scale_factor: float) -> dict[str, list[str]] | str:
    """Each TPC-H product's current published version against tpch_answers()."""
    sys.path.insert(0, str(REPO))
    from platform_lib.ports.catalog import PortCatalog
    from tests.support.tpch import TPCH_PRODUCTS, differences

    catalog = PortCatalog()
    found = {}
    for (domain, product), query in TPCH_PRODUCTS.items():
        for port in mesh.domain(domain).output_ports:
            if port.product == product:
                try:
                    found[".".join(port.asset_key)] = differences(catalog.table(port.asset_key).scan().to_arrow(), query, scale_factor)
                except LookupError as exc:
                    return f"not checked: {exc}"
    return found


def measure(scale_factor: float, home: Path) -> dict:
    """Every figure at one scale factor, on a MESH_HOME of its own."""
    import phases
    from floor import prepare_scripts

    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("MESH_")}
    env["MESH_HOME"] = str(home)
    for key in [k for k in os.environ if k.startswith("MESH_") or k == "DAGSTER_HOME"]:
        del os.environ[key]
    os.environ.update(env)

    from platform_lib.mesh import load_mesh
    from platform_lib.settings import export_environment

    export_environment()
    env = dict(os.environ)
    mesh = load_mesh()
    seed_s, _ = timed([str(BIN / "mesh"), "seed", "--sf", str(scale_factor)], env)

    floor_out = home / "floor"
    floor_out.mkdir()
    floor_s, floor_peak = timed([sys.executable, str(REPO / "bench" / "floor.py"), *map(str, prepare_scripts(mesh, floor_out))], env)

    started, output = time.time(), []
    mesh_s, mesh_peak = timed([str(BIN / "mesh"), "run"], env, output=output)
    split = phases.split(started, mesh_s, output[0])
    answers = tpch_differences(mesh, scale_factor)
    # The same work one domain at a time: Dagster's overhead without the concurrency that hides it.
    sequential_s, sequential_peak = timed([str(BIN / "mesh"), "run", "--parallelism", "1"], env)
    dbt_s, dbt_peak, per_domain = plain_dbt(mesh, env)
    loads = {d.name: round(location_load_seconds(d.name, env), 3) for d in mesh.domains}
    return {
        "scale_factor": scale_factor,
        "seed_seconds": round(seed_s, 2),
        "floor_seconds": round(floor_s, 2),
        "floor_peak_memory_mb": round(floor_peak / 2**20),
        "plain_dbt_build_seconds": round(dbt_s, 2),
        "plain_dbt_build_per_domain": per_domain,
        "dbt_peak_memory_mb": round(dbt_peak / 2**20),
        "mesh_run_seconds": round(mesh_s, 2),
        "mesh_peak_memory_mb": round(mesh_peak / 2**20),
        "ratio_mesh_to_dbt": round(mesh_s / dbt_s, 3),
        "ratio_mesh_to_floor": round(mesh_s / floor_s, 2),
        "mesh_run_one_domain_at_a_time_seconds": round(sequential_s, 2),
        "mesh_run_one_domain_at_a_time_peak_memory_mb": round(sequential_peak / 2**20),
        "ratio_one_at_a_time_to_dbt": round(sequential_s / dbt_s, 3),
        "phases": split,
        "tpch_differences": answers,
        "location_load_seconds": loads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sf", type=float, default=1.0)
    parser.add_argument("--home", help="MESH_HOME to use (default: a new temporary folder)")
    args = parser.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="mesh-bench-"))
    result = measure(args.sf, home)
    print(json.dumps(result, indent=2))
    (home / "bench.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
