"""The platform's own time (issue 23's fixed cost) against the code before that work, measured in
the same run.

    python bench/fixed_cost.py --baseline e1add51 --sf 1 --repeat 3

Issue 23 counted, summed over a forced SF 1 `mesh run`'s domains, the start-up until the first run,
Dagster's run bookkeeping and dbt (bench/phases.py), and asked for them halved. The code it was
filed against (`--baseline`, checked out into a temporary git worktree, its dbt projects prepared
there) runs the whole mesh on one freshly seeded MESH_HOME of its own, then this checkout runs it
`--force`d on another, in the command's own process (`--cold`) and forked from a warm process (`mesh
warm`, whose memory counts with the run's), `--repeat` times each in turns, each reported by its
median. The baseline's first run is left out: it also makes the home's databases. Writes
bench/fixed_cost.json. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import incremental
from incremental import OWN, warm_process
from mesh_vs_dbt import BIN, REPO, timed

KINDS = {"baseline": "the baseline, every run recomputing all", "cold": "`mesh run --force --cold`", "warm": "`mesh run --force`, forked from `mesh warm`"}


def home_env(home: Path, **extra: str) -> dict:
    # Only this home: a MESH_* or DAGSTER_HOME of the calling shell would point runs elsewhere.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESH_") and k != "DAGSTER_HOME"}
    return env | {"MESH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")} | extra


def mesh_run(env: dict, *flags: str, warm: int | None = None) -> dict:
    # The phase split reads the instance at this process's DAGSTER_HOME: the run's.
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    return incremental.mesh_run(env, *flags, warm=warm)


def measure(baseline: str, scale_factor: float, repeat: int, under: Path) -> dict:
    tree = under / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", "--force", str(tree), baseline], cwd=REPO, check=True, capture_output=True)
    try:
        # The baseline's code first on the path: its `mesh`, its definitions, its dbt projects.
        old = home_env(under / "old", PYTHONPATH=str(tree))
        new = home_env(under / "new")
        timed([str(BIN / "mesh"), "seed", "--sf", str(scale_factor)], new)
        shutil.copytree(under / "new" / "sources", under / "old" / "sources")
        timed([str(BIN / "mesh"), "prepare"], old, cwd=tree)
        mesh_run(old)
        mesh_run(new)
        measured: dict[str, list[dict]] = {kind: [] for kind in KINDS}
        with warm_process(new) as warm:
            for _ in range(repeat):
                measured["baseline"].append(mesh_run(old))
                measured["cold"].append(mesh_run(new, "--force", "--cold"))
                measured["warm"].append(mesh_run(new, "--force", warm=warm))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, capture_output=True)
    runs = {}
    for kind, these in measured.items():
        own = sorted(these, key=lambda run: sum(run["phases"][phase] for phase in OWN))
        median = own[len(own) // 2]
        runs[kind] = {"wall": median["wall"], "walls": [run["wall"] for run in these], "peak_memory_mb": median["peak_memory_mb"],
                      "own": {phase: median["phases"][phase] for phase in OWN},
                      "own_seconds": round(sum(median["phases"][phase] for phase in OWN), 2),
                      "own_seconds_each": [round(sum(run["phases"][phase] for phase in OWN), 2) for run in these]}
    return {"baseline": baseline, "scale_factor": scale_factor, "repeat": repeat, "runs": runs,
            "ratios": {kind: round(runs[kind]["own_seconds"] / runs["baseline"]["own_seconds"], 3) for kind in ("cold", "warm")}}


def table(result: dict) -> str:
    runs = result["runs"]
    rows = [f"| {name} | {runs[kind]['wall']:.1f} s | " + " | ".join(f"{runs[kind]['own'][phase]:.2f}" for phase in OWN)
            + f" | {runs[kind]['own_seconds']:.1f} s ({', '.join(f'{s:.1f}' for s in runs[kind]['own_seconds_each'])})"
            + (f" | {result['ratios'][kind]:.2f}x |" if kind != "baseline" else " | |") for kind, name in KINDS.items()]
    return "\n".join([
        f"Baseline {result['baseline']}, TPC-H SF {result['scale_factor']:g}, medians of {result['repeat']} (by the three phases' sum):",
        "",
        "| run | wall | start-up until the first run | run bookkeeping | dbt | the three | against the baseline |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="e1add51", help="the commit issue 23 was filed against (default: e1add51)")
    parser.add_argument("--sf", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "fixed_cost.json")
    args = parser.parse_args()
    under = Path(tempfile.mkdtemp(prefix="mesh-fixed-cost-"))
    try:
        result = measure(args.baseline, args.sf, args.repeat, under)
    finally:
        shutil.rmtree(under, ignore_errors=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result), flush=True)


if __name__ == "__main__":
    main()
