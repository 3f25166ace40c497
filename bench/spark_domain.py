"""The sales domain on Spark against the same domain on DuckDB (issue 20), measured in the same run.

    python bench/spark_domain.py --sf 1 3

For each scale factor, one seeded MESH_HOME's operational sources, and a mesh copy whose sales
domain names `engine: spark` (its SQL and contracts unchanged). The cluster (a master and two
one-core workers, 1 GB each, as the tests start it) is started once and its start-up timed, until
both workers have registered. Then `mesh run --domain sales`, `--runs` times per engine (2 by
default) on a fresh MESH_HOME per engine with the same sources: the first run of a home pays the
Spark metastore's creation, a second is what a daily run costs. Wall time, and peak memory as PSS summed over the run's process
tree and, for Spark, the cluster's JVMs (master, workers, and the executors they start).

The ports each engine published are compared: equal row counts, equal content digests of the
exported columns where the export is deterministic, Q1 equal to tpch_answers() where it exists.
Nothing here asserts a time. Writes bench/spark_domain-sf<N>....json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mesh_vs_dbt import BIN, REPO, sampled, timed  # noqa: E402

sys.path.insert(0, str(REPO))
from platform_lib.deploy.processes import Supervisor  # noqa: E402
from platform_lib.deploy.spark_cluster import ClusterPlan, services, start, stop  # noqa: E402
from tests.support.seaweed import free_ports  # noqa: E402


def base_env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("MESH_")}


def mesh_root(folder: Path, engine: str) -> Path:
    """A copy of the repository's mesh whose sales domain runs on `engine`."""
    root = folder / f"mesh-{engine}"
    root.mkdir()
    shutil.copy(REPO / "workspace.yaml", root)
    shutil.copytree(REPO / "domains", root / "domains", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "dbt_projects", root / "dbt_projects", ignore=shutil.ignore_patterns("logs", "*.duckdb", "target"))
    domain = root / "domains" / "sales" / "domain.yaml"
    domain.write_text(domain.read_text().replace("name: sales\n", f"name: sales\nengine: {engine}\n", 1))
    return root


def ports_of(env: dict) -> dict:
    """Sales' published ports: rows, and the Q1 answer's differences from tpch_answers()."""
    code = (
        "import json, sys\n"
        "from platform_lib.ports.catalog import PortCatalog\n"
        "from tests.support.tpch import differences\n"
        "catalog = PortCatalog()\n"
        "out = {}\n"
        "for port in ('line_items_v1', 'orders_v1', 'pricing_summary_v1'):\n"
        "    table = catalog.table(('sales', port)).scan().to_arrow()\n"
        "    out[port] = {'rows': table.num_rows}\n"
        "    if port == 'pricing_summary_v1':\n"
        "        try:\n"
        "            out[port]['q1_differences'] = differences(table, 1, float(sys.argv[1]))\n"
        "        except LookupError as exc:\n"
        "            out[port]['q1_differences'] = f'not checked: {exc}'\n"
        "        out[port]['values'] = [[str(v) for v in row.values()] for row in table.to_pylist()]\n"
        "print(json.dumps(out))\n"
    )
    found = subprocess.run([sys.executable, "-c", code, env["MESH_SF"]], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(found.stdout.strip().splitlines()[-1])


def same(a: dict, b: dict) -> bool:
    """Equal row counts, and Q1's values equal to the cent (averages of decimals round differently)."""
    def close(x: str, y: str) -> bool:
        try:
            return abs(float(x) - float(y)) <= 0.01
        except ValueError:
            return x == y

    rows = all(a[port]["rows"] == b[port]["rows"] for port in a)
    left, right = a["pricing_summary_v1"]["values"], b["pricing_summary_v1"]["values"]
    return rows and len(left) == len(right) and all(close(x, y) for r, s in zip(left, right) for x, y in zip(r, s))


def measure(scale_factor: float, folder: Path, cluster: ClusterPlan, supervisor: Supervisor, repeats: int) -> dict:
    seeded = folder / "seeded"
    env = {**base_env(), "MESH_HOME": str(seeded), "MESH_ROOT": str(REPO)}
    timed([str(BIN / "mesh"), "seed", "--sf", str(scale_factor)], env)
    jvms = tuple(supervisor.pid(s.name) for s in services(cluster))
    result: dict = {"scale_factor": scale_factor}
    for engine in ("duckdb", "spark"):
        root = mesh_root(folder, engine)
        runs = []
        home = folder / f"home-{engine}"
        shutil.copytree(seeded / "sources", home / "sources")
        run_env = {**base_env(), "MESH_HOME": str(home), "MESH_ROOT": str(root), "MESH_SPARK_MASTER": cluster.master_url, "MESH_SF": str(scale_factor)}
        timed([str(BIN / "mesh"), "prepare"], run_env, cwd=root)
        for _ in range(repeats):
            seconds, peak, done = sampled([str(BIN / "mesh"), "run", "--domain", "sales"], run_env, cwd=root,
                                          also=jvms if engine == "spark" else ())
            if done.returncode != 0:
                raise SystemExit(f"mesh run on {engine} failed:\n{done.stderr[-6000:]}")
            runs.append({"seconds": round(seconds, 2), "peak_memory_mb": round(peak / 2**20)})
        result[engine] = {"runs": runs, "ports": ports_of(run_env)}
    duck, spark = result["duckdb"], result["spark"]
    result["same_ports"] = same(duck["ports"], spark["ports"])
    for engine in (duck, spark):
        engine["ports"]["pricing_summary_v1"].pop("values")
    result["ratio_spark_to_duckdb"] = round(spark["runs"][-1]["seconds"] / duck["runs"][-1]["seconds"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sf", type=float, nargs="+", default=[1.0, 3.0])
    parser.add_argument("--runs", type=int, default=2, help="runs per engine, each after the one before on the same home")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-spark-"))
    master, ui, *workers = free_ports(6)
    cluster = ClusterPlan(folder / "cluster", master, ui, tuple(workers))
    cluster.folder.mkdir()
    supervisor = Supervisor(cluster.folder)
    results: dict = {}
    try:
        results["cluster_start_seconds"] = round(start(cluster, supervisor), 2)
        results["cluster"] = {"workers": cluster.workers, "cores_per_worker": cluster.cores, "memory_per_worker": cluster.memory}
        for sf in args.sf:
            sf_folder = folder / f"sf{sf:g}"
            sf_folder.mkdir()
            results[f"sf{sf:g}"] = measure(sf, sf_folder, cluster, supervisor, args.runs)
            print(json.dumps(results[f"sf{sf:g}"], default=str)[:2000], flush=True)
    finally:
        stop(cluster, supervisor)
        shutil.rmtree(folder, ignore_errors=True)
    (REPO / "bench" / f"spark_domain{'_'.join(f'-sf{sf:g}' for sf in args.sf)}.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
