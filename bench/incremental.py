"""The incremental `mesh run` (issue 23) against full runs and plain dbt, measured in the same run.

    python bench/incremental.py --sf 1 3

For each scale factor, on a freshly seeded MESH_HOME (a temporary folder, removed after), one after
the other: the first `mesh run` (every product stale), `mesh run` again after one operational source
of sales was rewritten (orders without the rows whose key is 5 modulo 97), then `--repeat` times in
turn `mesh run` with nothing changed, `mesh run --force` and plain `dbt build` of the five projects
(bench/mesh_vs_dbt.py), then the first two again forked from a warm process (`mesh warm`, whose
memory counts with theirs), each reported by its median. Wall time, peak memory (PSS summed over
the process tree), the phase split (bench/phases.py) and the ports each run published, and their
ratios, written to bench/incremental.json by scale factor.
Nothing here asserts a time: the numbers are for reading.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import phases
from mesh_vs_dbt import BIN, REPO, plain_dbt, timed

from platform_lib.deploy.processes import stop_group

# A port's line under its domain in `mesh run`'s report (platform_lib/runs/report.py).
DOMAIN = re.compile(r"^\[\d+/\d+\] (\S+)")
PORT = re.compile(r"^    (\S+)  +(\S+)  +(published|up to date|refused|held back|not published|not run)  +(.*)$")

RUNS = {
    "full": "first `mesh run` (every product stale)",
    "no_op": "`mesh run`, nothing changed",
    "one_source": "`mesh run`, sales' `orders` source rewritten",
    "forced": "`mesh run --force`",
    "no_op_warm": "`mesh run`, nothing changed, forked from `mesh warm`",
    "forced_warm": "`mesh run --force`, forked from `mesh warm`",
}
# The platform's own time, as issue 23 counts it (seconds summed over domains).
OWN = ("start_up_until_first_run", "bookkeeping", "dbt")
PHASES = ("start_up_until_first_run", "definitions_load", "binding", "dbt", "export", "audit", "publish", "bookkeeping", "governance_scorecard")


def port_outcomes(stderr: str) -> dict[str, dict[str, str]]:
    """Each status the report gave (published, up to date...) -> each port it gave it (`domain.port`)
    with what the report said of it."""
    outcomes: dict[str, dict[str, str]] = {}
    domain = None
    for line in stderr.splitlines():
        if heading := DOMAIN.match(line):
            domain = heading[1]
        elif (port := PORT.match(line)) and domain:
            outcomes.setdefault(port[3], {})[f"{domain}.{port[2]}"] = port[4]
    return outcomes


def mesh_run(env: dict, *flags: str, warm: int | None = None) -> dict:
    """`warm`: the warm process the run forks from, whose tree's memory counts with the command's."""
    started, output = time.time(), []
    seconds, peak = timed([str(BIN / "mesh"), "run", *flags], env, output=output, also=(warm,) if warm else ())
    return {"wall": round(seconds, 2), "peak_memory_mb": round(peak / 2**20), "ports": port_outcomes(output[0]),
            "phases": phases.split(started, seconds, output[0])}


def rewrite_orders() -> None:
    """A new version of one operational source, as its system would land it: a whole new file."""
    import duckdb

    from platform_lib.settings import operational_source_file

    path = operational_source_file("sales", "orders")
    # Not *.parquet, and beside the source: os.replace is atomic only within one file system.
    temp = path.with_name(f".{path.name}.tmp")
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT * FROM read_parquet('{path}') WHERE o_orderkey % 97 <> 5) TO '{temp}' (FORMAT parquet)")
    os.replace(temp, path)


def measure(scale_factor: float, home: Path, repeat: int) -> dict:
    # Only this home: a MESH_* or DAGSTER_HOME of the calling shell would point runs elsewhere.
    for key in [k for k in os.environ if k.startswith("MESH_") or k == "DAGSTER_HOME"]:
        del os.environ[key]
    os.environ["MESH_HOME"] = str(home)
    from platform_lib.mesh import load_mesh
    from platform_lib.settings import export_environment

    export_environment()
    env = dict(os.environ)
    timed([str(BIN / "mesh"), "seed", "--sf", str(scale_factor)], env)
    runs = {"full": mesh_run(env)}
    rewrite_orders()
    runs["one_source"] = mesh_run(env)
    # The runs a home allows again, `repeat` times each, in turns (a slow spell of the machine
    # falls on all three), each reported by its median. Plain dbt after the mesh's runs: it reads
    # the views a mesh run's input binding created.
    # The same, forked from a warm process (`mesh warm`, up for these runs only; the others `--cold`).
    again: dict[str, list[dict]] = {"no_op": [], "forced": [], "plain_dbt": [], "no_op_warm": [], "forced_warm": []}
    with warm_process(env) as warm:
        for _ in range(repeat):
            again["no_op"].append(mesh_run(env, "--cold"))
            again["forced"].append(mesh_run(env, "--force", "--cold"))
            dbt_s, dbt_peak, per_domain = plain_dbt(load_mesh(), env)
            again["plain_dbt"].append({"wall": round(dbt_s, 2), "peak_memory_mb": round(dbt_peak / 2**20), "per_domain": per_domain})
            again["no_op_warm"].append(mesh_run(env, warm=warm))
            again["forced_warm"].append(mesh_run(env, "--force", warm=warm))
    for kind, measured in again.items():
        runs[kind] = sorted(measured, key=lambda run: run["wall"])[len(measured) // 2] | {"walls": [run["wall"] for run in measured]}
    wall = {kind: run["wall"] for kind, run in runs.items()}
    return {
        "scale_factor": scale_factor,
        "repeat": repeat,
        "runs": runs,
        "ratios": {
            "no_op_to_full": round(wall["no_op"] / wall["full"], 3),
            "no_op_to_forced": round(wall["no_op"] / wall["forced"], 3),
            "one_source_to_full": round(wall["one_source"] / wall["full"], 3),
            "full_to_plain_dbt": round(wall["full"] / wall["plain_dbt"], 3),
            "forced_to_plain_dbt": round(wall["forced"] / wall["plain_dbt"], 3),
            "no_op_warm_to_full": round(wall["no_op_warm"] / wall["full"], 3),
            "forced_warm_to_plain_dbt": round(wall["forced_warm"] / wall["plain_dbt"], 3),
        },
        "platform_own_seconds": {kind: round(sum(runs[kind]["phases"][phase] for phase in OWN), 2) for kind in ("forced", "forced_warm")},
    }


@contextlib.contextmanager
def warm_process(env: dict) -> Iterator[int]:
    """`mesh warm` on the home, once it serves: its pid. Stopped with its group after."""
    proc = subprocess.Popen([str(BIN / "mesh"), "warm"], env=env, cwd=REPO, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        said = proc.stderr.readline()
        if "forks from here" not in said:
            raise SystemExit(f"mesh warm did not start: {said}")
        yield proc.pid
    finally:
        stop_group(proc, signal.SIGINT, grace=30)


def table(result: dict) -> str:
    runs, ratios = result["runs"], result["ratios"]
    said = {
        "full": f"{ratios['full_to_plain_dbt']:.2f}x dbt",
        "no_op": f"{ratios['no_op_to_full']:.2f}x full, {ratios['no_op_to_forced']:.2f}x forced",
        "one_source": f"{ratios['one_source_to_full']:.2f}x full",
        "forced": f"{ratios['forced_to_plain_dbt']:.2f}x dbt",
        "no_op_warm": f"{ratios['no_op_warm_to_full']:.2f}x full",
        "forced_warm": f"{ratios['forced_warm_to_plain_dbt']:.2f}x dbt",
    }
    def wall(kind: str) -> str:
        run = runs[kind]
        return f"{run['wall']:.1f} s" + (f" (median of {', '.join(f'{w:.1f}' for w in run['walls'])})" if "walls" in run else "")

    rows = [f"| plain `dbt build` of the five projects, in order | {wall('plain_dbt')} |  | {runs['plain_dbt']['peak_memory_mb']:,} MB |"]
    rows += [f"| {name} | {wall(kind)} | {said[kind]} | {runs[kind]['peak_memory_mb']:,} MB |" for kind, name in RUNS.items()]
    split = []
    for kind, name in RUNS.items():
        p = runs[kind]["phases"]
        split.append(f"| {name} | " + " | ".join(f"{p[k]:.2f}" for k in PHASES) + f" | {p['checks_share_of_wall']:.1%} |")
    told = runs["one_source"]["ports"]
    published = ", ".join(told.get("published", {})) or "none"
    same = ", ".join(port for port, said in told.get("up to date", {}).items() if said.startswith("recomputed")) or "none"
    return "\n".join([
        f"#### TPC-H SF {result['scale_factor']:g}",
        "",
        "| what | wall | ratio | peak memory (PSS, process tree) |",
        "|---|---:|---|---:|",
        *rows,
        "",
        f"After sales' `orders` was rewritten: published {published}; recomputed to the same content, no snapshot: {same}.",
        "",
        "Phase split of each `mesh run` (seconds summed over domains, which overlap):",
        "",
        "| run | start-up until the first run | definitions load | input binding | dbt | port export | audit | publish | run bookkeeping | scorecard | checks / wall |",
        "|---|" + "---:|" * 10,
        *split,
        "",
        "The platform's own time (start-up, run bookkeeping, dbt; summed over domains): forced "
        + ", forked from `mesh warm` ".join(f"{result['platform_own_seconds'][kind]:.1f} s" for kind in ("forced", "forced_warm")) + ".",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sf", type=float, nargs="+", action="extend", help="scale factors (default: 1 3)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "incremental.json")
    parser.add_argument("--under", help="folder the temporary MESH_HOMEs are made in (default: the system's)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of nothing changed, forced and plain dbt, each (default: 3; the median is reported)")
    args = parser.parse_args()
    # Kept by scale factor: one invocation per scale factor adds to the others' figures.
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for scale_factor in args.sf or [1.0, 3.0]:
        home = Path(tempfile.mkdtemp(prefix="mesh-incremental-", dir=args.under))
        try:
            results[f"{scale_factor:g}"] = result = measure(scale_factor, home, args.repeat)
        finally:
            shutil.rmtree(home, ignore_errors=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(table(result) + "\n", flush=True)


if __name__ == "__main__":
    main()
