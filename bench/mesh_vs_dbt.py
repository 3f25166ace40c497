"""The whole mesh against plain `dbt build` of the same projects, measured in the same run.

    python bench/mesh_vs_dbt.py --sf 1

Reports: `mesh run` wall time and peak memory (PSS summed over the process tree), the same with one
domain at a time, plain `dbt build` of
each domain's project in the same order over the same bound inputs, their ratio, and the time each
code location takes to load. Nothing here asserts a time: the numbers are for reading.
"""

from __future__ import annotations

import argparse
import json
import os
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


def timed(cmd: list[str], env: dict, cwd: Path = REPO) -> tuple[float, int]:
    """Wall seconds and peak tree memory of a command; fails loudly if the command fails."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_memory_bytes(proc.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, stderr = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{stderr[-4000:]}")
    return time.perf_counter() - started, peak


def location_load_seconds(domain: str, env: dict) -> float:
    """Seconds to build a code location's definitions, in a fresh interpreter with Dagster imported."""
    code = (
        "import time, dagster, dagster_dbt\n"
        "from platform_lib.mesh import load_mesh\n"
        "from platform_lib.cli.run import load_definitions\n"
        "folder = load_mesh().domain(" + repr(domain) + ").folder\n"
        "t = time.perf_counter()\n"
        "load_definitions(folder).resolve_asset_graph()\n"
        "print(time.perf_counter() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sf", type=float, default=1.0)
    parser.add_argument("--home", help="MESH_HOME to use (default: a new temporary folder)")
    args = parser.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="mesh-bench-"))
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("MESH_")}
    env["MESH_HOME"] = str(home)
    os.environ.update(env)

    from platform_lib.assets.dbt_project import dbt_project
    from platform_lib.mesh import load_mesh
    from platform_lib.ports.binding import bind_sources
    from platform_lib.settings import export_environment

    export_environment()
    env = dict(os.environ)
    mesh = load_mesh()
    seed_s, _ = timed([str(BIN / "mesh"), "seed", "--sf", str(args.sf)], env)
    mesh_s, mesh_peak = timed([str(BIN / "mesh"), "run"], env)
    # The same work one domain at a time: Dagster's overhead without the concurrency that hides it.
    sequential_s, _ = timed([str(BIN / "mesh"), "run", "--parallelism", "1"], env)

    dbt_s, dbt_peak, per_domain = 0.0, 0, {}
    for name in mesh.run_order():
        project = dbt_project(mesh.domain(name).dbt_project_dir)
        manifest = json.loads(project.manifest_path.read_text())
        bind_sources(mesh.domain(name), manifest)
        seconds, peak = timed(
            [str(BIN / "dbt"), "build", "--project-dir", str(project.project_dir), "--profiles-dir", str(project.profiles_dir)],
            env,
        )
        per_domain[name] = round(seconds, 2)
        dbt_s += seconds
        dbt_peak = max(dbt_peak, peak)

    loads = {d.name: round(location_load_seconds(d.name, env), 3) for d in mesh.domains}
    result = {
        "scale_factor": args.sf,
        "cores": os.cpu_count(),
        "seed_seconds": round(seed_s, 2),
        "mesh_run_seconds": round(mesh_s, 2),
        "plain_dbt_build_seconds": round(dbt_s, 2),
        "plain_dbt_build_per_domain": per_domain,
        "ratio_mesh_to_dbt": round(mesh_s / dbt_s, 3),
        "mesh_run_one_domain_at_a_time_seconds": round(sequential_s, 2),
        "ratio_one_at_a_time_to_dbt": round(sequential_s / dbt_s, 3),
        "mesh_peak_memory_mb": round(mesh_peak / 2**20),
        "dbt_peak_memory_mb": round(dbt_peak / 2**20),
        "location_load_seconds": loads,
    }
    print(json.dumps(result, indent=2))
    (home / "bench.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
