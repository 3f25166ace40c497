"""The control surface on a large generated mesh: `mesh check`, code location loads and the
webserver, at 20 domains x 25 products (500 output ports) and on smaller meshes beside it.

    python bench/mesh_scale.py --profile            # 20x25, and 5x5 and 5x25 to compare (~15 min)
    python bench/mesh_scale.py --size 10x25 --small '' --no-code-servers

Each mesh is written by bench/generated_mesh.py (`generate_synthetic_mesh`: domain 0 source-aligned,
every later domain's products reading 1-3 ports of earlier domains, grants where ports are
restricted) into a temporary folder, its manifests prepared with `mesh prepare`; MESH_HOME and
DAGSTER_HOME are temporary folders too, and nothing of this shell's MESH_* or DAGSTER_HOME is
inherited. No port is published: each input port is a warning at load ("not published yet").
For each mesh, one after the other:

1. `mesh check` as a process: wall and CPU seconds, exit code and its findings (there must be no
   error: the generated mesh follows every policy), cold (an empty MESH_HOME, as CI on a fresh
   checkout) and warm (again, after `mesh prepare` in the same MESH_HOME: files in the OS cache);
2. the load of the first, a middle and the last domain's code location, as bench/mesh_vs_dbt.py
   measures it (`load_definitions` + `resolve_asset_graph()` in a fresh interpreter with dagster and
   dagster_dbt already imported), median of 3, split into importing the platform's definitions
   module, building the definitions and resolving the asset graph; cold and warm as in 1;
3. `dagster-webserver -w workspace.yaml` in the mesh's folder: seconds until it answers HTTP and
   until every code location is LOADED (with each location's error, if any failed), then the global
   asset graph query (`assetNodes` with the fields the UI's lineage reads), median of 5, checked
   against the cross-domain edges the generator planned; the per-location asset queries Dagster
   1.13's UI actually issues are timed too;
4. the webserver tree's peak memory (PSS summed over the webserver and its code servers) and its
   CPU seconds until the workspace loaded;
5. the production shape (`mesh up`, unless --no-code-servers): a `dagster code-server start` per
   location, all started together, seconds until every one serves its loaded code, then the
   webserver on a workspace of their gRPC endpoints (a restart of the webserver alone), measured as
   in 3 and 4, code servers' memory included. (`dagster-webserver -w workspace.yaml` starts each
   location's code server itself, one after the other, before it answers any request.)

With --profile, also where `mesh check` spends its time, cold and warm (each phase and policy,
timed unprofiled), and the import cost of a code location process. The machine's load average is recorded beside each
measure: other work on the machine inflates wall times, not CPU seconds. Nothing here asserts a
target. Writes bench/mesh_scale.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_mesh import clean_env, generate_synthetic_mesh, prepare_manifests
from mesh_vs_dbt import tree_memory_bytes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from platform_lib.deploy.processes import stop_group
from tests.support.free_ports import reserve_ports

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOAD_REPEATS = 3
QUERY_REPEATS = 5
WORKSPACE_TIMEOUT = 900
TARGETS = {"mesh_check_s": 5, "location_load_s": 1, "webserver_workspace_and_graph_s": 10}

LOAD = """
import json, sys, time
from pathlib import Path
import dagster, dagster_dbt, platform_lib
from platform_lib.runs.mesh_run import load_definitions
wall, cpu = time.perf_counter(), time.process_time()
import platform_lib.definitions
imported = time.perf_counter()
defs = load_definitions(Path(sys.argv[1]))
built = time.perf_counter()
graph = defs.resolve_asset_graph()
done = time.perf_counter()
print(json.dumps({"total_s": done - wall, "import_definitions_module_s": imported - wall, "definitions_s": built - imported,
                  "asset_graph_s": done - built, "cpu_s": time.process_time() - cpu, "assets": len(graph.get_all_asset_keys())}))
"""

WORKSPACE = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus updatedTimestamp
  locationOrLoadError { __typename ... on PythonError { message } } } } ... on PythonError { message } } }"""

# The global lineage's fields: Dagster's AssetBaseNodeFragment, the edges, and where each node lives.
ASSET_GRAPH = """{ assetNodes {
  id assetKey { path } dependencyKeys { path } dependedByKeys { path } graphName groupName opNames
  isMaterializable isObservable isExecutable isPartitioned isAutoCreatedStub hasAssetChecks computeKind
  hasMaterializePermission changedReasons jobNames kinds description(characterLimit: 240)
  owners { ... on UserAssetOwner { email } ... on TeamAssetOwner { team } } tags { key value }
  automationCondition { __typename } partitionDefinition { dimensionTypes { type } }
  repository { id name location { id name } } } }"""

# What Dagster 1.13's UI sends instead: one query per code location (LocationWorkspaceAssetsQuery).
LOCATION_ASSETS = """query($name: String!) { workspaceLocationEntryOrError(name: $name) {
  ... on WorkspaceLocationEntry { id name loadStatus locationOrLoadError { ... on RepositoryLocation { id name repositories {
    id name assetNodes { id assetKey { path } dependencyKeys { path } graphName groupName opNames isMaterializable
      isObservable isExecutable isPartitioned hasAssetChecks computeKind jobNames kinds description(characterLimit: 240)
      owners { ... on UserAssetOwner { email } ... on TeamAssetOwner { team } } tags { key value } }
    assetGroups { id groupName } } } } } } }"""


# --- the machine and the code measured ---------------------------------------------------------


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def code_state() -> dict:
    """The commit, and whether platform_lib had uncommitted changes: it is edited while benches run."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": git("describe", "--always", "--dirty"), "platform_lib_uncommitted_files": git("status", "--porcelain", "platform_lib").splitlines()}


def empty_home(work: Path) -> Path:
    """A MESH_HOME with nothing in it: no validation cache, no port catalog, no instance."""
    return Path(tempfile.mkdtemp(prefix="home-empty-", dir=work))


def parse_size(text: str) -> tuple[int, int]:
    domains, _, products = text.partition("x")
    return int(domains), int(products)


# --- 1. mesh check ---------------------------------------------------------------------------------


def mesh_check(root: Path, env: dict) -> dict:
    """`mesh check --json` as CI runs it: wall and CPU seconds of the process, and its findings."""
    before, load = resource.getrusage(resource.RUSAGE_CHILDREN), load_average()
    started = time.perf_counter()
    out = subprocess.run([str(BIN / "mesh"), "check", str(root), "--json"], env=env, cwd=root, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        findings = json.loads(out.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"mesh check printed no JSON (exit {out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}") from None
    errors = [f for f in findings if f["severity"] == "error"]
    by_policy: dict[str, int] = {}
    for f in findings:
        by_policy[f["policy"] or "descriptor"] = by_policy.get(f["policy"] or "descriptor", 0) + 1
    return {
        "wall_s": round(wall, 2), "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
        "exit_code": out.returncode, "errors": len(errors), "warnings": len(findings) - len(errors), "findings_by_policy": by_policy,
        "first_errors": [f"{f['file']}:{f['line']}: {f['field']}: {f['message']}" for f in errors[:5]], "load_average_before": load,
    }


# --- 2. code location loads ------------------------------------------------------------------------


def location_load(folder: Path, root: Path, env: dict) -> dict:
    """One load in a fresh interpreter; the location's warnings (unpublished ports) go to stderr."""
    out = subprocess.run([sys.executable, "-c", LOAD, str(folder)], env=env, cwd=root, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"loading {folder} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def load_stats(samples: list[dict]) -> dict:
    median = statistics.median(s["total_s"] for s in samples)
    typical = min(samples, key=lambda s: abs(s["total_s"] - median))
    return {
        "median_s": round(median, 3), "samples_s": [round(s["total_s"], 3) for s in samples], "cpu_s": round(statistics.median(s["cpu_s"] for s in samples), 3),
        # The split of the median sample: importing the platform, the domain's definitions, Dagster's asset graph.
        **{k: round(v, 3) for k, v in typical.items() if k.endswith("_s") and k not in ("total_s", "cpu_s")},
    }


def location_loads(root: Path, names: list[str], env: dict, work: Path) -> dict:
    """First, middle and last domain: producers first, so the last one reads the deepest lineage.
    Cold: each load in an empty MESH_HOME, as after a contract changed (the platform remembers there
    which contracts passed validation); warm: in the mesh's home, which `mesh prepare` filled."""
    picked = {"first": names[0], "middle": names[len(names) // 2], "last": names[-1]}
    loads = {}
    for position, name in picked.items():
        folder, load = root / "domains" / name, load_average()
        cold = [location_load(folder, root, {**env, "MESH_HOME": str(empty_home(work))}) for _ in range(LOAD_REPEATS)]
        warm = [location_load(folder, root, env) for _ in range(LOAD_REPEATS)]
        loads[position] = {"domain": name, "assets_in_location": warm[0]["assets"], "cold": load_stats(cold), "warm": load_stats(warm), "load_average_before": load}
        print(f"  location {name}: cold {loads[position]['cold']['median_s']:.3f} s, warm {loads[position]['warm']['median_s']:.3f} s", file=sys.stderr)
    return loads


# --- 3. and 4. the webserver ---------------------------------------------------------------------


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        body = json.loads(response.read())
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live descendants (code servers are alive throughout)."""
    stats, children = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            stats[int(entry)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry))
    ticks, stack = 0, [pid]
    while stack:
        p = stack.pop()
        if p in stats:
            ticks += int(stats[p][11]) + int(stats[p][12])  # utime, stime
        stack.extend(children.get(p, []))
    return ticks / os.sysconf("SC_CLK_TCK")


class PeakMemory:
    """Samples the PSS of some process trees, summed, twice a second from start to stop, in a thread."""

    def __init__(self, *pids: int):
        self.pids, self.peak, self._done = pids, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def now(self) -> int:
        return sum(tree_memory_bytes(pid) for pid in self.pids)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self.now())
            self._done.wait(0.5)

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self.peak


def wait_for_workspace(url: str, proc: subprocess.Popen, started: float, expected: int) -> tuple[float | None, float, list[dict]]:
    """(first HTTP answer, every location LOADED, the entries), seconds since the webserver started.
    A location that failed to load is LOADED too, with a PythonError."""
    answered = None
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"webserver exited {proc.returncode} before its workspace loaded")
        if time.perf_counter() - started > WORKSPACE_TIMEOUT:
            raise RuntimeError(f"workspace not loaded after {WORKSPACE_TIMEOUT} s")
        try:
            data = graphql(url, WORKSPACE)["workspaceOrError"]
        except (OSError, RuntimeError):
            time.sleep(0.5)
            continue
        answered = answered or time.perf_counter() - started
        entries = data.get("locationEntries") or []
        if len(entries) == expected and all(e["loadStatus"] == "LOADED" for e in entries):
            return answered, time.perf_counter() - started, entries
        time.sleep(0.5)


def timed_queries(fn, repeats: int) -> tuple[list[float], object]:
    samples, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        samples.append(round(time.perf_counter() - t, 3))
    return samples, result


def planned_edges(plan) -> set[tuple[str, str]]:
    """Producer port asset -> consumer's dbt model, for every input port the generator wrote."""
    return {("/".join(p.key), f"{port.domain}/{port.name}") for ports in plan for port in ports for p in port.inputs}


def graph_figures(nodes: list[dict], plan) -> dict:
    edges = {("/".join(d["path"]), "/".join(n["assetKey"]["path"])) for n in nodes for d in n["dependencyKeys"]}
    cross = {(a, b) for a, b in edges if a.split("/")[0] != b.split("/")[0]}
    expected = planned_edges(plan)
    return {"asset_nodes": len(nodes), "edges": len(edges), "cross_domain_edges": len(cross), "planned_cross_domain_edges_missing": len(expected - cross)}


def create_instance(dagster_home: Path, env: dict) -> None:
    """The instance's SQLite storage, created once: processes starting together would race in its
    schema migrations (as `mesh run` notes)."""
    if not (dagster_home / "dagster.yaml").exists():
        dagster_home.mkdir(parents=True, exist_ok=True)
        (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        code = "from dagster import DagsterInstance\nwith DagsterInstance.get() as instance:\n    instance.get_runs_count()\n"
        subprocess.run([sys.executable, "-c", code], env={**env, "DAGSTER_HOME": str(dagster_home)}, check=True, capture_output=True)


def webserver(root: Path, env: dict, dagster_home: Path, plan, locations: int, workspace: str = "workspace.yaml", beside: tuple[int, ...] = ()) -> dict:
    """Start, wait for every location, query the global asset graph, stop: all in one process group.
    `beside`: processes already serving the workspace (code servers), counted in the memory."""
    create_instance(dagster_home, env)
    held = reserve_ports()  # until the webserver stops: it binds the port anyway (tests.support.free_ports)
    (port,), load = held.ports, load_average()
    log = open(dagster_home / f"webserver-{port}.log", "w")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)],
        cwd=root, env={**env, "DAGSTER_HOME": str(dagster_home)}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    memory = PeakMemory(proc.pid, *beside)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            answered, loaded, entries = wait_for_workspace(url, proc, started, locations)
        except RuntimeError as exc:
            log.flush()
            raise RuntimeError(f"{exc}; its log ends:\n{Path(log.name).read_text()[-3000:]}") from None
        cpu_to_load = tree_cpu_seconds(proc.pid)
        start_epoch = time.time() - (time.perf_counter() - started)
        graph_samples, data = timed_queries(lambda: graphql(url, ASSET_GRAPH), QUERY_REPEATS)
        names = [e["name"] for e in entries]
        per_location_samples, _ = timed_queries(lambda: [graphql(url, LOCATION_ASSETS, {"name": n}) for n in names], QUERY_REPEATS)
        at_rest = memory.now()
    finally:
        peak = memory.stop()
        stop_group(proc)
        log.close()
        held.release()
    failed = [{"location": e["name"], "error": (e["locationOrLoadError"].get("message") or "")[:2000]}
              for e in entries if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"]
    ready = sorted(round(e["updatedTimestamp"] - start_epoch, 1) for e in entries)
    return {
        "answers_http_s": round(answered, 2), "workspace_loaded_s": round(loaded, 2), "locations": len(entries), "failed_locations": failed,
        # When each location's entry was made (its load finished), seconds after start: how they came in.
        "location_ready_s": {"first": ready[0], "median": statistics.median(ready), "last": ready[-1]},
        "cpu_s_until_loaded": round(cpu_to_load, 1),
        "asset_graph_query": {"median_s": statistics.median(graph_samples), "samples_s": graph_samples, **graph_figures(data["assetNodes"], plan)},
        "ui_per_location_asset_queries": {"median_s": statistics.median(per_location_samples), "samples_s": per_location_samples, "queries": len(names)},
        "workspace_and_graph_s": round(loaded + statistics.median(graph_samples), 2),
        "peak_memory_mb": round(peak / 2**20), "memory_at_rest_mb": round(at_rest / 2**20), "load_average_before": load,
    }


def code_server_targets(root: Path, names: list[str]) -> dict[str, list[str]]:
    """What `mesh up` gives `dagster code-server start` for each location of the workspace."""
    targets = {name: ["-f", str(root / "domains" / name / "definitions.py")] for name in names}
    return targets | {"governance": ["-m", "platform_lib.governance.definitions"]}


def wait_serving(ports: dict[str, int], procs: list[subprocess.Popen], started: float) -> float:
    """Seconds until every code server answers a ping through its loaded code (the proxy forwards
    Ping to the server it started, so an answer means the definitions loaded)."""
    from dagster._grpc.client import DagsterGrpcClient

    waiting = dict(ports)
    while waiting:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a code server exited while starting")
        if time.perf_counter() - started > WORKSPACE_TIMEOUT:
            raise RuntimeError(f"code servers not serving after {WORKSPACE_TIMEOUT} s: {sorted(waiting)}")
        for name, port in list(waiting.items()):
            try:
                DagsterGrpcClient(port=port, host="127.0.0.1").ping("mesh_scale")
                del waiting[name]
            except Exception:  # not listening yet, or still loading: asked again next round
                pass
        time.sleep(1)
    return time.perf_counter() - started


def webserver_on_code_servers(root: Path, env: dict, dagster_home: Path, plan, names: list[str]) -> dict:
    """The production shape (`mesh up`): a code server per location, started together, then the
    webserver on a workspace of gRPC endpoints, as after a restart of the webserver alone."""
    create_instance(dagster_home, env)
    env = {**env, "DAGSTER_HOME": str(dagster_home)}
    ports, procs, logs = {}, [], []
    targets = code_server_targets(root, names)
    held = reserve_ports(len(targets))  # until the code servers stop: gRPC binds them anyway
    load = load_average()
    started = time.perf_counter()
    try:
        for (name, target), port in zip(targets.items(), held):
            ports[name] = port
            logs.append(open(dagster_home / f"code-server-{name}.log", "w"))
            procs.append(subprocess.Popen(
                [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1", "-p", str(ports[name]), *target, "-d", str(root), "--location-name", name],
                cwd=root, env=env, stdout=logs[-1], stderr=subprocess.STDOUT, start_new_session=True,
            ))
        memory = PeakMemory(*(p.pid for p in procs))
        serving = wait_serving(ports, procs, started)
        cpu = sum(tree_cpu_seconds(p.pid) for p in procs)
        at_rest = memory.now()
        peak = memory.stop()
        entries = [{"grpc_server": {"host": "127.0.0.1", "port": port, "location_name": name}} for name, port in ports.items()]
        (root / "workspace.grpc.yaml").write_text(json.dumps({"load_from": entries}))  # JSON is YAML
        served = webserver(root, env, dagster_home, plan, len(ports), "workspace.grpc.yaml", tuple(p.pid for p in procs))
    finally:
        for proc in procs:
            stop_group(proc)
        for log in logs:
            log.close()
        held.release()
    return {
        "code_servers": len(procs), "all_serving_s": round(serving, 1), "code_servers_cpu_s": round(cpu, 1),
        "code_servers_peak_memory_mb": round(peak / 2**20), "code_servers_memory_at_rest_mb": round(at_rest / 2**20),
        "load_average_before": load, "webserver_restart": served,
    }


# --- profiles (--profile) -------------------------------------------------------------------------

# `mesh check` with its phases and policies wrapped in timers: no profiler overhead, so the seconds
# add up to the command's own.
CHECK_PHASES = """
import json, sys, time
from collections import defaultdict
from pathlib import Path
started = time.perf_counter()
import platform_lib.cli.check as check_mod
import platform_lib.descriptors.contract as contract_mod
import platform_lib.descriptors.product as product_mod
import platform_lib.descriptors.standards as standards
import platform_lib.descriptors.yaml_file as yaml_file
import platform_lib.governance.policies as policies_mod
imported = time.perf_counter() - started
spent, calls = defaultdict(float), defaultdict(int)
def timed(name, fn):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - t
            calls[name] += 1
    return wrapper
contract_mod.validate_odcs = timed("validate_odcs: ODCS JSON schema (jsonschema), per contract", standards.validate_odcs)
product_mod.validate_odps = timed("validate_odps: ODPS models (pydantic), per descriptor", standards.validate_odps)
contract_mod.load_yaml = product_mod.load_yaml = timed("load_yaml while loading descriptors", yaml_file.load_yaml)
check_mod.load_manifest = timed("load_manifest: json of each dbt manifest", check_mod.load_manifest)
check_mod.survey = timed("survey: load every domain (includes the validations and first parses)", check_mod.survey)
for p in policies_mod.GLOBAL_POLICIES:
    object.__setattr__(p, "check", timed(f"policy {p.id}", lambda s, f=p.check: list(f(s))))
t = time.perf_counter()
check_mod.check(Path(sys.argv[1]))
total = time.perf_counter() - t
print(json.dumps({"import_s": round(imported, 2), "check_s": round(total, 2),
                  "phases": [{"what": k, "seconds": round(v, 2), "calls": calls[k]} for k, v in sorted(spent.items(), key=lambda kv: -kv[1])]}))
"""

IMPORTS = """
import time
t = time.perf_counter()
import dagster, dagster_dbt
dagster_s = time.perf_counter() - t
import platform_lib.definitions
print(dagster_s, time.perf_counter() - t - dagster_s)
"""


def profile_check(root: Path, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHECK_PHASES, str(root)], env=env, cwd=root, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def profile_location_process(root: Path, env: dict) -> dict:
    """What each code server pays before it loads anything: the webserver starts one per location."""
    samples = []
    for _ in range(LOAD_REPEATS):
        out = subprocess.run([sys.executable, "-c", IMPORTS], env=env, cwd=root, capture_output=True, text=True, check=True)
        samples.append([float(x) for x in out.stdout.split()])
    return {"import_dagster_and_dagster_dbt_s": round(statistics.median(s[0] for s in samples), 2),
            "then_import_platform_lib_definitions_s": round(statistics.median(s[1] for s in samples), 2)}


# --- one mesh, all measures -----------------------------------------------------------------------


def measure(size: tuple[int, int], work: Path, with_profile: bool, with_code_servers: bool) -> dict:
    domains, products = size
    label = f"{domains}x{products}"
    root, home = work / f"mesh_{label}", work / f"home_{label}"
    root.mkdir()
    env = clean_env(root, home)
    print(f"mesh {label}: generating", file=sys.stderr)
    t = time.perf_counter()
    plan = generate_synthetic_mesh(root, domains, products)
    generated = time.perf_counter() - t
    prepare_manifests(root, env)
    prepared = time.perf_counter() - t - generated
    names = [ports[0].domain for ports in plan]
    result = {
        "size": label, "domains": domains, "products_per_domain": products, "output_ports": domains * products,
        "input_ports": sum(len(port.inputs) for ports in plan for port in ports),
        "restricted_ports": sum(port.restricted for ports in plan for port in ports),
        "generate_s": round(generated, 1), "mesh_prepare_s": round(prepared, 1),
    }
    print(f"mesh {label}: mesh check", file=sys.stderr)
    # Cold as CI on a fresh checkout; warm after `mesh prepare` in the same MESH_HOME, as `make` runs them.
    result["mesh_check"] = {"cold": mesh_check(root, {**env, "MESH_HOME": str(empty_home(work))}), "warm": mesh_check(root, env)}
    for state, check in result["mesh_check"].items():
        if check["errors"]:
            raise SystemExit(f"the generated mesh {label} fails mesh check ({state}): {check['first_errors']}")
    print(f"mesh {label}: location loads", file=sys.stderr)
    result["location_load"] = location_loads(root, names, env, work)
    print(f"mesh {label}: webserver", file=sys.stderr)
    result["webserver"] = webserver(root, env, work / f"dagster_{label}", plan, len(names) + 1)
    if with_code_servers:
        print(f"mesh {label}: code servers, then the webserver on them", file=sys.stderr)
        result["webserver_on_code_servers"] = webserver_on_code_servers(root, env, work / f"dagster_grpc_{label}", plan, names)
    if with_profile:
        print(f"mesh {label}: profiles", file=sys.stderr)
        result["profile"] = {
            "mesh_check_phases": {"cold": profile_check(root, {**env, "MESH_HOME": str(empty_home(work))}), "warm": profile_check(root, env)},
            "code_location_process": profile_location_process(root, env),
        }
    return result


def flatness(meshes: list[dict]) -> dict:
    """Each location's load (median, and CPU) on the largest mesh over the same position on each smaller one."""
    big = meshes[0]
    return {
        f"{big['size']} / {small['size']}": {
            f"{pos} {state} {figure}": round(big["location_load"][pos][state][figure] / small["location_load"][pos][state][figure], 2)
            for pos in big["location_load"] for state in ("cold", "warm") for figure in ("median_s", "cpu_s")
        }
        for small in meshes[1:]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="20x25", help="domains x products of the mesh measured (default 20x25)")
    parser.add_argument("--small", default="5x5,5x25", help="smaller meshes to compare with, comma-separated ('' for none)")
    parser.add_argument("--profile", action="store_true", help="also time mesh check's phases and a code server's imports")
    parser.add_argument("--no-code-servers", action="store_true", help="skip the production shape (code servers started first, then the webserver)")
    parser.add_argument("--out", default=str(Path(__file__).with_suffix(".json")))
    args = parser.parse_args()
    sizes = [parse_size(args.size)] + [parse_size(s) for s in args.small.split(",") if s]
    work = Path(tempfile.mkdtemp(prefix="mesh-scale-"))
    result = {"cores": os.cpu_count(), **code_state(), "load_average_at_start": load_average(), "targets": TARGETS}
    try:
        meshes = [measure(size, work, args.profile, not args.no_code_servers) for size in sizes]
    finally:
        shutil.rmtree(work, ignore_errors=True)  # unlinks each mesh's platform_lib link, never follows it
    # platform_lib may change while this runs (it is worked on meanwhile): the end says whether it did.
    result |= {"meshes": meshes, "location_load_ratio_to_smaller_mesh": flatness(meshes), "load_average_at_end": load_average(), "at_end": code_state()}
    text = json.dumps(result, indent=2)
    Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
