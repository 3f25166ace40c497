"""Code location load time as the mesh grows: 5 and 50 consumer domains, old code against new.

    python bench/location_load.py [--old COMMIT] [--repository]

Before (commit 76ffcde) a location judged its domain against every domain of workspace.yaml, so
its load grew with the mesh; now (this checkout) it judges its input ports against what producers
published in the port catalog. Both load the same generated meshes (bench/generated_mesh.py: the
three producers and N copies of finance), whose producers' ports are published once by the real
mesh (`mesh seed --sf 0.01`, `mesh run` of sales, customers and supply) into a temporary MESH_HOME.

Measured as bench/mesh_vs_dbt.py measures a code location: the seconds `load_definitions(folder)`
and `resolve_asset_graph()` take in a fresh interpreter with Dagster already imported; median of
REPEATS processes, for the first and the last consumer domain. `--repository`: the repository's
own domains instead, each loaded from the old commit's folders by the old code and from this
checkout's by the new (issue 21: the domain as a Dagster component, descriptors in the derived
form). Nothing here asserts a time. Writes bench/location_load.json (or location_load-repository.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_mesh import generate_mesh, write_manifests

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
OLD_COMMIT = "76ffcde"
SIZES = (5, 50)
REPEATS = 5

LOAD = """
import sys, time
from pathlib import Path
import dagster, dagster_dbt, platform_lib
assert platform_lib.__file__.startswith(sys.argv[2]), platform_lib.__file__
from platform_lib.runs.mesh_run import load_definitions
started = time.perf_counter()
load_definitions(Path(sys.argv[1])).resolve_asset_graph()
print(time.perf_counter() - started)
"""


def load_seconds(folder: Path, code: Path, env: dict) -> float:
    """One location load in a fresh interpreter running the platform_lib found under `code`."""
    out = subprocess.run([sys.executable, "-c", LOAD, str(folder), str(code)], env=env, cwd=code, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"loading {folder} with {code} failed:\n{out.stderr[-4000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def publish_producers(home: Path) -> None:
    """The real mesh's producers, run once, publish their ports into home's port catalog."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESH_", "DAGSTER_"))}
    env["MESH_HOME"] = str(home)
    for cmd in (["seed", "--sf", "0.01"], ["run", "--domain", "sales", "--domain", "customers", "--domain", "supply"]):
        out = subprocess.run([str(BIN / "mesh"), *cmd], env=env, cwd=REPO, capture_output=True, text=True, check=False)
        if out.returncode:
            raise SystemExit(f"mesh {' '.join(cmd)} failed:\n{out.stderr[-4000:]}")


def repository_rows(worktree: Path, producers: Path, base: dict) -> list[dict]:
    """Each of the repository's domains, as the old commit had it against as this checkout has it."""
    rows = []
    for code in (worktree, REPO):
        env = {**base, "MESH_ROOT": str(code), "MESH_HOME": str(producers), "PYTHONPATH": str(code)}
        # Each side's manifests compiled first: a load that finds none compiles it, which is no load.
        subprocess.run([sys.executable, "-m", "platform_lib.cli.main", "prepare"], cwd=code, env=env, check=True, capture_output=True)
    for folder in sorted((REPO / "domains").iterdir()):
        if not (folder / "definitions.py").exists():
            continue
        times = {}
        for side, code in (("old", worktree), ("new", REPO)):
            env = {**base, "MESH_ROOT": str(code), "MESH_HOME": str(producers), "PYTHONPATH": str(code)}
            times[side] = [load_seconds(code / "domains" / folder.name, code, env) for _ in range(REPEATS)]
        rows.append({"domain": folder.name, "old_s": round(statistics.median(times["old"]), 3), "new_s": round(statistics.median(times["new"]), 3),
                     "old_samples": [round(s, 3) for s in times["old"]], "new_samples": [round(s, 3) for s in times["new"]]})
        print(f"{folder.name}: old {rows[-1]['old_s']:.3f} s, new {rows[-1]['new_s']:.3f} s", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--producers-home", help="a MESH_HOME whose producers already published (default: publish into a new one)")
    parser.add_argument("--old", default=OLD_COMMIT, help=f"the commit to compare with (default {OLD_COMMIT})")
    parser.add_argument("--repository", action="store_true", help="the repository's own domains rather than generated meshes")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mesh-location-load-"))
    worktree = work / "worktree"
    try:
        producers = Path(args.producers_home).resolve() if args.producers_home else work / "producers"
        if not args.producers_home:
            publish_producers(producers)
        subprocess.run(["git", "worktree", "add", "--detach", str(worktree), args.old], cwd=REPO, check=True, capture_output=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("MESH_", "DAGSTER_")) and k != "PYTHONPATH"}
        rows = repository_rows(worktree, producers, base) if args.repository else []
        for n in () if args.repository else SIZES:
            root = work / f"mesh_{n}"
            env = {
                **base,
                "MESH_ROOT": str(root),
                "MESH_HOME": str(root / ".mesh"),
                "MESH_DUCKDB_MEMORY_LIMIT": "1GB",
                "MESH_PORT_CATALOG": f"sqlite:///{producers / 'ports' / 'catalog.db'}",
                "MESH_PORT_WAREHOUSE": (producers / "ports" / "warehouse").as_uri(),
            }
            names = generate_mesh(root, n)
            write_manifests(root, names, env)
            for name in (names[0], names[-1]):
                folder = root / "domains" / name
                old = [load_seconds(folder, worktree, {**env, "PYTHONPATH": str(worktree)}) for _ in range(REPEATS)]
                new = [load_seconds(folder, REPO, env) for _ in range(REPEATS)]
                rows.append({"n": n, "domain": name, "old_s": round(statistics.median(old), 3), "new_s": round(statistics.median(new), 3),
                             "old_samples": [round(s, 3) for s in old], "new_samples": [round(s, 3) for s in new]})
                print(f"N={n:<3} {name}: old {rows[-1]['old_s']:.3f} s, new {rows[-1]['new_s']:.3f} s", file=sys.stderr)
    finally:
        if worktree.exists():
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO, check=True)
        shutil.rmtree(work, ignore_errors=True)

    head = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()
    result = {"cores": os.cpu_count(), "load_average_at_end": os.getloadavg(), "repeats": REPEATS, "old_commit": args.old, "new_commit": head,
              "locations_in_workspace": "the repository's" if args.repository else {n: n + 3 for n in SIZES}, "loads": rows}
    print(f"{'N':>3} {'domain':<12} {'old s':>7} {'new s':>7}")
    for r in rows:
        print(f"{r.get('n', ''):>3} {r['domain']:<12} {r['old_s']:>7.3f} {r['new_s']:>7.3f}")
    out = Path(__file__).with_name("location_load-repository.json" if args.repository else "location_load.json")
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
