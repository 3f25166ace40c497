"""The whole benchmark, one command (`make bench`): every figure of bench/README.md, measured in one run.

    python bench/run.py [--sf 0.1 1 3] [--skip-scale]

For each scale factor, on a MESH_HOME of its own: the floor, plain `dbt build`, `mesh run`
(concurrent, with its phase split and the TPC-H answers checked, then one domain at a time) and each
code location's load (bench/mesh_vs_dbt.py). On the SF 1 mesh (or the largest run): each port's
audit against datacontract-cli `test` on the same contract and file (bench/audit_vs_datacontract.py,
datacontract-cli in its own virtualenv). Then the generated 20 x 25 mesh: `mesh check`, code
location loads, the webserver's workspace and asset graph (bench/mesh_scale.py). Writes
bench/results.json and the results section of bench/README.md, with the date, machine and commit.
Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from mesh_vs_dbt import measure

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
README = BENCH / "README.md"
BEGIN, END = "<!-- results: written by bench/run.py -->", "<!-- end of results -->"


def machine() -> str:
    memory = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")))
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.machine())
    return f"{os.cpu_count()} cores ({model}), {memory / 2**20:.0f} GiB, Python {platform.python_version()}"


def commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return head + (" (with uncommitted changes)" if dirty else "")


def helper(script: str, *args: str) -> dict:
    """Another bench script, as a process of this run's tree; its JSON output."""
    out = Path(tempfile.mkdtemp(prefix="bench-")) / "out.json"
    subprocess.run([sys.executable, str(BENCH / script), *args, "--out", str(out)], cwd=REPO, check=True)
    return json.loads(out.read_text())


def _row(name: str, figures: dict, key: str, memory: str | None = None, ratio: str = "") -> str:
    wall = figures[key]
    mb = f"{figures[memory]:,} MB" if memory and figures.get(memory) is not None else ""
    return f"| {name} | {wall:.1f} s | {ratio} | {mb} |"


def scale_table(r: dict) -> list[str]:
    phases = r["phases"]
    return [
        f"#### TPC-H SF {r['scale_factor']:g}",
        "",
        "| what | wall | ratio | peak memory (PSS, process tree) |",
        "|---|---:|---|---:|",
        _row("the floor: dbt-compiled SQL by DuckDB alone, one process per domain, each port written once", r, "floor_seconds", "floor_peak_memory_mb"),
        _row("plain `dbt build` of the five projects, in order", r, "plain_dbt_build_seconds", "dbt_peak_memory_mb"),
        _row("`mesh run` (independent domains concurrently)", r, "mesh_run_seconds", "mesh_peak_memory_mb",
             f"{r['ratio_mesh_to_dbt']:.2f}x dbt, {r['ratio_mesh_to_floor']:.1f}x floor"),
        _row("`mesh run --parallelism 1`", r, "mesh_run_one_domain_at_a_time_seconds", "mesh_run_one_domain_at_a_time_peak_memory_mb",
             f"{r['ratio_one_at_a_time_to_dbt']:.2f}x dbt"),
        "",
        "Phase split of the concurrent `mesh run` (seconds summed over domains, which overlap):",
        "",
        "| start-up until the first run | definitions load | input binding | dbt | port export | audit | publish | run bookkeeping | scorecard | checks / wall |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        "| " + " | ".join(f"{phases[k]:.2f}" for k in ("start_up_until_first_run", "definitions_load", "binding", "dbt", "export", "audit",
                                                       "publish", "bookkeeping", "governance_scorecard"))
        + f" | {phases['checks_share_of_wall']:.1%} |",
        "",
        f"TPC-H answers after the runs: {_answers(r['tpch_differences'])}. Code location load (definitions, Dagster imported): "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in r["location_load_seconds"].items()) + ".",
        "",
    ]


def _answers(differences) -> str:
    if isinstance(differences, str):
        return differences
    wrong = {port: problems for port, problems in differences.items() if problems}
    return f"all {len(differences)} exact" if not wrong else f"DIFFERENT: {wrong}"


def audit_table(a: dict) -> list[str]:
    lines = [
        f"#### Port audit against datacontract-cli {a.get('datacontract_cli', '')} `test` (same contract, same file, SF {a.get('scale_factor', '?')})",
        "",
        "| port | rows | ours, process | theirs, process | ratio | ours, audit alone | theirs, test alone | ratio | checks ours / theirs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, p in a["ports"].items():
        lines.append(
            f"| {name} | {p['rows']:,} | {p['ours_process_s']:.2f} s | {p['theirs_process_s']:.2f} s | {p['ratio_process_theirs_to_ours']:.1f}x "
            f"| {p['ours_warm_s']:.3f} s | {p['theirs_warm_s']:.2f} s | {p['ratio_warm_theirs_to_ours']:.1f}x "
            f"| {p['ours_checks']['run']} / {p['theirs_checks']['run']} |"
        )
    return lines + [""]


def scale_mesh_table(s: dict) -> list[str]:
    lines = [
        "#### Generated meshes (bench/mesh_scale.py): control surface, no data",
        "",
        "| mesh | ports | `mesh check` cold / warm | location load cold / warm (first, middle, last) | `dagster-webserver -w workspace.yaml`: "
        "workspace loaded | on running code servers (`mesh up`): webserver restart + graph | global asset graph query |",
        "|---|---:|---|---|---:|---:|---:|",
    ]
    for m in s["meshes"]:
        check = m["mesh_check"]
        loads = "; ".join(f"{m['location_load'][w]['cold']['median_s']:.2f} / {m['location_load'][w]['warm']['median_s']:.2f}" for w in ("first", "middle", "last"))
        web, shape = m["webserver"], m.get("webserver_on_code_servers", {}).get("webserver_restart", {})
        lines.append(
            f"| {m['size']} | {m['output_ports']} | {check['cold']['wall_s']:.1f} s / {check['warm']['wall_s']:.1f} s | {loads} s "
            f"| {web['workspace_loaded_s']:.1f} s | {shape.get('workspace_and_graph_s', float('nan')):.1f} s | {web['asset_graph_query']['median_s']:.2f} s |"
        )
    return lines + [""]


def write_readme(results: dict, tables: list[str]) -> None:
    header = [BEGIN, "", f"Measured {results['date']} on {results['machine']}, commit {results['commit']} (`python bench/run.py`).", ""]
    text = README.read_text()
    before, _, rest = text.partition(BEGIN)
    _, _, after = rest.partition(END)
    README.write_text(before + "\n".join(header + tables) + "\n" + END + after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sf", type=float, nargs="+", default=[0.1, 1.0, 3.0])
    parser.add_argument("--audit-sf", type=float, default=1.0, help="scale factor whose ports are audited against datacontract-cli")
    parser.add_argument("--skip-scale", action="store_true", help="leave out the generated 20 x 25 mesh")
    args = parser.parse_args()
    results = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(), "commit": commit(), "scale_factors": []}
    tables = []
    homes = {}
    for sf in args.sf:
        homes[sf] = Path(tempfile.mkdtemp(prefix=f"bench-sf{sf:g}-"))
        figures = measure(sf, homes[sf])
        print(json.dumps(figures, indent=2))
        results["scale_factors"].append(figures)
        tables += scale_table(figures)
    audited = args.audit_sf if args.audit_sf in homes else max(homes)
    results["audit"] = helper("audit_vs_datacontract.py", "--home", str(homes[audited]))
    tables += audit_table(results["audit"])
    for home in homes.values():
        shutil.rmtree(home, ignore_errors=True)
    if not args.skip_scale:
        results["scale"] = helper("mesh_scale.py")
        tables += scale_mesh_table(results["scale"])
    (BENCH / "results.json").write_text(json.dumps(results, indent=2))
    write_readme(results, tables)


if __name__ == "__main__":
    main()
