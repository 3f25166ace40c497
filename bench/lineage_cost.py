"""What column lineage adds to a code location's load and to `mesh check`: the seconds spent tracing
the models' compiled SQL (sqlglot) and inheriting classification, against the whole of each, in the
same process. The goal is under 10% of each.

    python bench/lineage_cost.py [--producers-home HOME] [--generated]

Each figure is the median of REPEATS fresh interpreters (Dagster imported before the clock starts,
as bench/location_load.py measures a load). The lineage's share is timed inside the very load or
check it is part of: `classify`, where every policy and the location gate get it, wrapped with a
timer; beside it, after the clock stops, every port of the same domains traced (what a run does,
and what load and check would do in a mesh where every port reads values it could be refused
for): the worst case. On the repository's mesh, loads read a MESH_HOME whose producers published (as in a running
mesh: the inputs are typed by the published contracts); `--generated` adds the generated mesh of 20
domains x 25 products (bench/generated_mesh.py), whose consumers read up to 500 ports.
Writes bench/lineage_cost.json. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_mesh import clean_env, generate_synthetic_mesh, prepare_manifests

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REPEATS = 5

TIMED = """
import importlib, json, sys, time
from pathlib import Path
import dagster, dagster_dbt
# The module: platform_lib.governance exports its `policy` decorator under the same name.
policy = importlib.import_module("platform_lib.governance.policy")

spent = [0.0]
classify = policy.classify
def timed(*args, **kwargs):
    started = time.perf_counter()
    try:
        return classify(*args, **kwargs)
    finally:
        spent[0] += time.perf_counter() - started
policy.classify = timed
"""

# After the clock stops: every port of the domain traced, as a run does (and as load and check would
# in a mesh where every port reads values it could be refused for).
EVERY_PORT = """
def every_port(domain, manifest, producers):
    from platform_lib.lineage.classification import input_ports
    started = time.perf_counter()
    classify(domain, manifest, input_ports(domain, producers.producer_of))
    return time.perf_counter() - started
"""

LOAD = TIMED + EVERY_PORT + """
from platform_lib.dbt.manifest import load_manifest
from platform_lib.descriptors.domain import load_domain
from platform_lib.ports.published import PublishedPorts
from platform_lib.runs.mesh_run import load_definitions
started = time.perf_counter()
load_definitions(Path(sys.argv[1])).resolve_asset_graph()
total = time.perf_counter() - started
domain = load_domain(Path(sys.argv[1]))
print(json.dumps({"total_s": total, "lineage_s": spent[0], "every_port_s": every_port(domain, load_manifest(domain), PublishedPorts())}))
"""

CHECK = TIMED + EVERY_PORT + """
from platform_lib.cli.check import cases
from platform_lib.dbt.manifest import load_manifest
from platform_lib.mesh import survey
started = time.perf_counter()
cases(Path(sys.argv[1]))
total = time.perf_counter() - started
mesh = survey(Path(sys.argv[1]) / "workspace.yaml").mesh
print(json.dumps({"total_s": total, "lineage_s": spent[0], "every_port_s": sum(every_port(d, load_manifest(d), mesh) for d in mesh.domains)}))
"""


def timed(script: str, argument: Path, env: dict, cwd: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", script, str(argument)], env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"{argument} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median_of(script: str, argument: Path, env: dict, cwd: Path) -> dict:
    samples = [timed(script, argument, env, cwd) for _ in range(REPEATS)]
    total, lineage, every = (statistics.median(s[k] for s in samples) for k in ("total_s", "lineage_s", "every_port_s"))
    return {"total_s": round(total, 3), "lineage_s": round(lineage, 3), "share": round(lineage / total, 3),
            # Had every port been traced: the extra seconds over the same total.
            "every_port_s": round(every, 3), "every_port_share": round(every / (total - lineage + every), 3)}


def measure(root: Path, env: dict, domains: list[str]) -> dict:
    found = {"mesh_check": median_of(CHECK, root, env, root)}
    found["location_load"] = {name: median_of(LOAD, root / "domains" / name, env, root) for name in domains}
    for what, figure in [("mesh check", found["mesh_check"]), *((f"load {n}", f) for n, f in found["location_load"].items())]:
        print(f"  {what}: {figure['total_s']:.3f} s, lineage {figure['lineage_s']:.3f} s ({figure['share']:.1%}); every port traced "
              f"{figure['every_port_s']:.3f} s ({figure['every_port_share']:.1%})", file=sys.stderr)
    return found


def publish_producers(home: Path, env: dict) -> None:
    for cmd in (["seed", "--sf", "0.01"], ["run"]):
        out = subprocess.run([str(BIN / "mesh"), *cmd], env={**env, "MESH_HOME": str(home)}, cwd=REPO, capture_output=True, text=True, check=False)
        if out.returncode:
            raise SystemExit(f"mesh {' '.join(cmd)} failed:\n{out.stderr[-4000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--producers-home", help="a MESH_HOME where the mesh has run (default: run it into a new one)")
    parser.add_argument("--generated", action="store_true", help="also the generated 20 x 25 mesh")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="mesh-lineage-cost-") as work:
        home = Path(args.producers_home).resolve() if args.producers_home else Path(work) / "home"
        env = clean_env(REPO, home)
        if not args.producers_home:
            publish_producers(home, env)
        print("repository mesh", file=sys.stderr)
        results["repository"] = measure(REPO, env, ["sales", "customers", "supply", "finance", "marketing"])
        if args.generated:
            root = Path(work) / "generated"
            root.mkdir()
            planned = generate_synthetic_mesh(root, 20, 25)
            generated_env = clean_env(root, Path(work) / "generated-home")
            prepare_manifests(root, generated_env)
            names = [ports[0].domain for ports in planned]
            print("generated mesh, 20 domains x 25 products", file=sys.stderr)
            results["generated_20x25"] = measure(root, generated_env, [names[0], names[len(names) // 2], names[-1]])
    results["machine"] = {"cores": os.cpu_count(), "python": sys.version.split()[0]}
    (Path(__file__).parent / "lineage_cost.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
