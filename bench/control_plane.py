"""The control plane's figures on the real topology (`mesh up`): how long after a producer publishes
its consumers' runs start, how long the webserver takes to answer the global asset graph with every
location on gRPC, and the memory of the whole topology at rest and under a full run.

    python bench/control_plane.py --sf 0.1

Starts `mesh up` in a temporary MESH_HOME with its own PostgreSQL databases (dropped afterwards),
publishes customers and supply, then launches sales through GraphQL and lets the daemon start
finance and marketing. Memory is PSS summed over every process of the deployment (smem's way:
shared pages divided among their sharers), sampled twice a second. Nothing here asserts a time.
Writes bench/control_plane.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.free_ports import reserve_block

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ASSET_GRAPH = "{ assetNodes { assetKey { path } dependencyKeys { path } } }"


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                     headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=300).read())["data"]


def launch(url: str, domain: str) -> str:
    query = "mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { ... on LaunchRunSuccess { run { runId } } } }"
    selector = {"repositoryLocationName": domain, "repositoryName": "__repository__", "jobName": f"{domain}_products"}
    return graphql(url, query, {"p": {"selector": selector}})["launchRun"]["run"]["runId"]


def runs(url: str) -> list[dict]:
    found = graphql(url, "{ runsOrError(limit: 100) { ... on Runs { results { runId status creationTime startTime endTime tags { key value } } } } }")
    results = found["runsOrError"]["results"]
    for run in results:
        run["tags"] = {t["key"]: t["value"] for t in run["tags"]}
    return results


def wait_finished(url: str, run_ids: set[str]) -> list[dict]:
    while True:
        done = [r for r in runs(url) if r["runId"] in run_ids and r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
        if len(done) == len(run_ids):
            return done
        time.sleep(1)


def pss_mb(home: Path) -> float:
    """PSS of every process in the deployment's process groups (the pid files of `mesh up`)."""
    groups = {int(p.read_text()) for p in (home / "run").glob("*.pid")}
    total = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if os.getpgid(int(proc.name)) in groups:
                rollup = (proc / "smaps_rollup").read_text()
                total += next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
        except (OSError, StopIteration, ProcessLookupError):
            continue
    return total / 1024


class PeakSampler(threading.Thread):
    def __init__(self, home: Path):
        super().__init__(daemon=True)
        self.home, self.peak, self.stopped = home, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak = max(self.peak, pss_mb(self.home))
            time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sf", type=float, default=0.1)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="mesh-control-plane-"))
    # Code servers from base, SeaweedFS from base + 50, the webserver at base + 60: held until `mesh down`,
    # every server binds its port anyway (tests.support.free_ports).
    block = reserve_block(61)
    name, base = f"mesh_bench_{secrets.token_hex(3)}", block.ports[0]
    port = base + 60
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESH_", "DAGSTER_"))} | {"MESH_HOME": str(home)}
    flags = ["--port", str(port), "--base-port", str(base), "--name", name]
    url = f"http://127.0.0.1:{port}"
    mesh = lambda *a: subprocess.run([str(BIN / "mesh"), *a], env=env, cwd=REPO, check=True, capture_output=True, text=True)  # noqa: E731
    mesh("seed", "--sf", str(args.sf))
    try:
        started = time.perf_counter()
        mesh("up", *flags)
        up_s = time.perf_counter() - started
        time.sleep(10)
        at_rest = pss_mb(home)
        graph = []
        for _ in range(5):
            t = time.perf_counter()
            nodes = len(graphql(url, ASSET_GRAPH)["assetNodes"])
            graph.append(time.perf_counter() - t)
        sampler = PeakSampler(home)
        sampler.start()
        wait_finished(url, {launch(url, "customers"), launch(url, "supply")})
        sales = wait_finished(url, {launch(url, "sales")})[0]
        consumers = {}
        while set(consumers) < {"finance", "marketing"}:
            for run in runs(url):
                domain = run["tags"].get("mesh/domain")
                if run["tags"].get("dagster/from_automation_condition") and run["creationTime"] >= sales["endTime"] and domain not in consumers:
                    consumers[domain] = run
            time.sleep(1)
        done = wait_finished(url, {r["runId"] for r in consumers.values()})
        sampler.stopped.set()
        result = {
            "scale_factor": args.sf, "cores": os.cpu_count(),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip(),
            "mesh_up_s": round(up_s, 1),
            "publication_to_consumer_run_s": {
                r["tags"]["mesh/domain"]: {"created": round(r["creationTime"] - sales["endTime"], 1), "started": round(r["startTime"] - sales["endTime"], 1)}
                for r in done
            },
            "consumer_runs": {r["tags"]["mesh/domain"]: r["status"] for r in done},
            "asset_graph_query_s": {"median": round(statistics.median(graph), 2), "max": round(max(graph), 2), "nodes": nodes},
            "topology_pss_mb": {"at_rest": round(at_rest), "peak_under_full_run": round(sampler.peak)},
        }
        print(json.dumps(result, indent=2))
        (Path(__file__).parent / "control_plane.json").write_text(json.dumps(result, indent=2) + "\n")
    finally:
        subprocess.run([str(BIN / "mesh"), "down", *flags], env=env, cwd=REPO, capture_output=True)
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"drop database if exists {name}_dagster with (force)",
                        "-c", f"drop database if exists {name}_ports with (force)"], capture_output=True)
        block.release()


if __name__ == "__main__":
    main()
