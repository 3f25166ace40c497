"""The platform's audit of a port against datacontract-cli's `test`, same ODCS contract, same Parquet file.

    python bench/audit_vs_datacontract.py                  # seeds and runs a mesh at SF 0.1 in a temp MESH_HOME
    python bench/audit_vs_datacontract.py --sf 1 --ports sales/line_items_v1
    python bench/audit_vs_datacontract.py --home MESH_HOME # a mesh that has already run

datacontract-cli lives in its own virtualenv, bench/datacontract/.venv, made on first use from
bench/datacontract/requirements.txt (never in the project's pins). For each port's current published
file it reports, median of --repeats:
- `ours_process_s` / `theirs_process_s`: a fresh process that loads the contract and checks the file
  (`platform_lib.quality.audit.audit` / `datacontract test`), wall time;
- `ours_warm_s` / `theirs_warm_s`: the check alone, in a process that already imported everything and
  ran it once (`audit(...)` / `DataContract(...).test()`, which also parses the contract);
- peak memory of each process (PSS summed over its tree), the checks each side ran and passed, and
  the rules datacontract-cli reported but did not run.
Where datacontract-cli 1.2.8 cannot run a contract as written (two of its bugs, see
`theirs_workarounds`), it tests a copy rewritten to the same rules and reports the as-written verdict.
Then once, on a small port's file with a DECIMAL(15,2) column rewritten as DOUBLE by DuckDB, what each
side says about physical types. It prints JSON and writes it to bench/audit_vs_datacontract.json.
Nothing here asserts a time: the numbers are for reading.
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
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from mesh_vs_dbt import sampled as run_sampled  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
THEIRS = REPO / "bench" / "datacontract"
THEIRS_BIN = THEIRS / ".venv" / "bin"
OUT = REPO / "bench" / "audit_vs_datacontract.json"
SERVER = "bench"
DOCTORED_TYPE = "DECIMAL(15,2)"

# Argv: contract, parquet, repeats. The first audit is untimed: it imports what the audit loads lazily
# (great-expectations, for rules DuckDB does not compute), which a warm measure must not count.
OURS_REPORT = """
import json, sys, time
from pathlib import Path
import duckdb
from platform_lib.descriptors.contract import load_contract
from platform_lib.quality.audit import audit
from platform_lib.quality.rules import contract_rules
started = time.perf_counter()
contract = load_contract(Path(sys.argv[1]))
load_s = time.perf_counter() - started
parquet, repeats = Path(sys.argv[2]), int(sys.argv[3])
outcomes, seconds = audit(parquet, contract), []
for _ in range(repeats):
    started = time.perf_counter()
    outcomes = audit(parquet, contract)
    seconds.append(time.perf_counter() - started)
kinds = {r.name: r.expectation for r in contract_rules(contract)}
print(json.dumps({"seconds": seconds, "contract_load_s": load_s, "duckdb": duckdb.__version__, "checks": [
    {"name": o.name, "kind": kinds.get(o.name, "schema (pyarrow)"), "passed": o.passed,
     "observed": None if o.passed else str(o.observed or o.error)[:300]} for o in outcomes]}))
"""

OURS_PROCESS = """
import sys
from pathlib import Path
from platform_lib.descriptors.contract import load_contract
from platform_lib.quality.audit import audit
sys.exit(0 if all(o.passed for o in audit(Path(sys.argv[2]), load_contract(Path(sys.argv[1])))) else 1)
"""

# Run by datacontract-cli's venv; the same untimed first call as ours (ibis loads its DuckDB backend then).
THEIRS_REPORT = """
import json, sys, time
import duckdb
from datacontract.data_contract import DataContract
contract, server, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
run, seconds = DataContract(data_contract_file=contract, server=server).test(), []
for _ in range(repeats):
    started = time.perf_counter()
    run = DataContract(data_contract_file=contract, server=server).test()
    seconds.append(time.perf_counter() - started)
print(json.dumps({"seconds": seconds, "duckdb": duckdb.__version__, "result": run.result.value, "checks": [
    {"type": c.type, "name": c.name, "field": c.field, "result": c.result.value if c.result else None,
     "reason": c.reason} for c in run.checks]}))
"""


def theirs_venv() -> None:
    """datacontract-cli's virtualenv, made (or brought up to the requirements) on first use."""
    requirements = THEIRS / "requirements.txt"
    installed = THEIRS / ".venv" / "installed-requirements.txt"
    if not (THEIRS_BIN / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(THEIRS / ".venv")], check=True)
    if not installed.exists() or installed.read_text() != requirements.read_text():
        subprocess.run([str(THEIRS_BIN / "pip"), "install", "-q", "-r", str(requirements)], check=True)
        installed.write_text(requirements.read_text())


def mesh_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("MESH_")}
    env["MESH_HOME"] = str(home)
    return env


def build_mesh(sf: float, env: dict) -> dict:
    seconds = {}
    for step in (["seed", "--sf", str(sf)], ["run"]):
        started = time.perf_counter()
        done = subprocess.run([str(BIN / "mesh"), *step], env=env, cwd=REPO, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"mesh {step[0]} failed:\n{(done.stdout + done.stderr)[-4000:]}")
        seconds[step[0]] = round(time.perf_counter() - started, 2)
    return seconds


def sampled(cmd: list[str], env: dict) -> tuple[float, int, int, str]:
    """Wall seconds, peak tree memory, exit code and stdout of a command. Sampled every 50 ms: some
    of the processes measured here last only a second or two."""
    seconds, peak, result = run_sampled(cmd, env, REPO, every=0.05)
    if result.returncode not in (0, 1):  # 1 is a failed check, which callers judge; anything else is a crash
        raise SystemExit(f"{' '.join(cmd[:3])} crashed ({result.returncode}):\n{result.stderr[-4000:]}")
    return seconds, peak, result.returncode, result.stdout


def must_pass(cmd: list[str], env: dict) -> tuple[float, int]:
    seconds, peak, code, stdout = sampled(cmd, env)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} reported a failed check on a published file:\n{stdout[-4000:]}")
    return seconds, peak


def report(cmd: list[str], env: dict) -> tuple[dict, int]:
    _, peak, _, stdout = sampled(cmd, env)
    return json.loads(stdout.strip().splitlines()[-1]), peak


def published_file(catalog, key: tuple[str, str]) -> Path | None:
    from platform_lib.ports.storage import path_of

    version = catalog.current(key)
    if version is None:
        return None
    files = catalog.data_files(catalog.table(key), version.snapshot_id)
    if len(files) != 1:
        raise SystemExit(f"{'/'.join(key)}: {len(files)} data files in the current snapshot, expected one")
    return Path(path_of(files[0]))


def contract_copy(contract, parquet: Path, folder: Path, workarounds: bool) -> tuple[Path, list[str]]:
    """The port's contract as written, with one local Parquet server in place of the port catalog's;
    with `workarounds`, also rewritten where datacontract-cli 1.2.8 cannot run it as written."""
    import yaml

    document = yaml.safe_load(contract.file.read_text())
    document["servers"] = [{"server": SERVER, "type": "local", "format": "parquet", "path": str(parquet)}]
    fixes = theirs_workarounds(document["schema"][0]) if workarounds else []
    path = folder / f"{contract.file.stem}.{parquet.stem}{'.workarounds' if fixes else ''}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path, fixes


def theirs_workarounds(schema: dict) -> list[str]:
    """Rewrites that keep every rule's meaning, for two bugs of datacontract-cli 1.2.8 that fail a
    contract whatever the data."""
    fixes = []
    if schema.get("physicalName", schema["name"]) != schema["name"]:
        # It names its DuckDB view of a local file after `name` but queries `physicalName`: every
        # check fails with "Could not read model". A file has no physical table name to keep.
        fixes.append(f"physicalName {schema['physicalName']!r} set to the schema's name {schema['name']!r}")
        schema["physicalName"] = schema["name"]
    row_counts = [rule for rule in schema.get("quality", []) if rule.get("metric") == "rowCount"]
    for rule in row_counts[1:]:
        # Every rowCount rule of a schema gets the same key, so a second one makes its batched
        # aggregation query fail ("Duplicate column name") and with it every check batched there.
        rule.pop("metric")
        rule.update(type="sql", query="select count(*) from {object}")
        fixes.append(f"rowCount rule {rule.get('name')!r} written as the same count in a sql rule (a second rowCount rule)")
    return fixes


def ours_summary(checks: list[dict]) -> dict:
    failed = [c for c in checks if not c["passed"]]
    return {"run": len(checks), "passed": len(checks) - len(failed), "by_kind": dict(Counter(c["kind"] for c in checks)),
            **({"failed": failed} if failed else {})}


def theirs_summary(checks: list[dict]) -> dict:
    """A `warning` here is a check datacontract-cli declared but did not run (its reason says why)."""
    ran = [c for c in checks if c["result"] in ("passed", "failed", "error")]
    by_type: dict[str, Counter] = {}
    for c in checks:
        by_type.setdefault(c["type"], Counter())[c["result"]] += 1
    failed = failures(checks)
    return {"total": len(checks), "run": len(ran), "passed": sum(c["result"] == "passed" for c in ran),
            "not_run": len(checks) - len(ran), "by_type": {t: dict(n) for t, n in by_type.items()},
            **({"failed": failed} if failed else {})}


def not_run_reasons(checks: list[dict]) -> dict[str, str]:
    return {c["type"]: c["reason"] for c in checks if c["result"] not in ("passed", "failed", "error")}


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def verdict(copy: Path, env: dict) -> dict:
    """`datacontract test`'s own verdict, as JSON."""
    out = copy.with_suffix(".result.json")
    sampled([str(THEIRS_BIN / "datacontract"), "test", str(copy), "--server", SERVER, "--output", str(out), "--output-format", "json"], env)
    return json.loads(out.read_text())


def failures(checks: list[dict]) -> list[dict]:
    return [{k: c[k] for k in ("type", "field", "result", "reason")} for c in checks if c["result"] in ("failed", "error")]


def measure(port, parquet: Path, folder: Path, repeats: int, env: dict) -> tuple[dict, dict[str, str]]:
    # Untimed: the contract as written first (which also puts the file in the page cache for both sides).
    as_written = verdict(contract_copy(port.contract, parquet, folder, workarounds=False)[0], env)
    copy, fixes = contract_copy(port.contract, parquet, folder, workarounds=True)
    theirs = verdict(copy, env) if fixes else as_written
    if theirs["result"] not in ("passed", "warning"):
        raise SystemExit(f"{copy.name}: datacontract-cli failed a published file: {failures(theirs['checks'])}")
    contract, data = str(port.contract.file), str(parquet)
    ours_cmd = [str(BIN / "python"), "-c", OURS_PROCESS, contract, data]
    theirs_cmd = [str(THEIRS_BIN / "datacontract"), "test", str(copy), "--server", SERVER]

    ours_s, theirs_s, ours_peak, theirs_peak = [], [], 0, 0
    for _ in range(repeats):  # interleaved, so drift in the machine's load hits both sides alike
        seconds, peak = must_pass(ours_cmd, env)
        ours_s.append(seconds)
        ours_peak = max(ours_peak, peak)
        seconds, peak = must_pass(theirs_cmd, env)
        theirs_s.append(seconds)
        theirs_peak = max(theirs_peak, peak)
    ours_warm, ours_warm_peak = report([str(BIN / "python"), "-c", OURS_REPORT, contract, data, str(repeats)], env)
    theirs_warm, theirs_warm_peak = report([str(THEIRS_BIN / "python"), "-c", THEIRS_REPORT, str(copy), SERVER, str(repeats)], env)
    if theirs_warm["result"] != theirs["result"] or len(theirs_warm["checks"]) != len(theirs["checks"]):
        raise SystemExit(f"{copy.name}: the Python API ({theirs_warm['result']}) disagrees with the CLI ({theirs['result']})")
    if not all(c["passed"] for c in ours_warm["checks"]):
        raise SystemExit(f"{port.contract.file}: our audit failed a published file: {ours_summary(ours_warm['checks'])}")

    result = {
        "rows": port_rows(parquet),
        "file_mb": round(parquet.stat().st_size / 2**20, 1),
        "ours_process_s": median(ours_s),
        "theirs_process_s": median(theirs_s),
        "ratio_process_theirs_to_ours": round(statistics.median(theirs_s) / statistics.median(ours_s), 2),
        "ours_warm_s": median(ours_warm["seconds"]),
        "theirs_warm_s": median(theirs_warm["seconds"]),
        "ratio_warm_theirs_to_ours": round(statistics.median(theirs_warm["seconds"]) / statistics.median(ours_warm["seconds"]), 2),
        "ours_contract_load_s": round(ours_warm["contract_load_s"], 3),
        "ours_process_peak_mb": round(ours_peak / 2**20),
        "theirs_process_peak_mb": round(theirs_peak / 2**20),
        "ours_warm_peak_mb": round(ours_warm_peak / 2**20),
        "theirs_warm_peak_mb": round(theirs_warm_peak / 2**20),
        "ours_checks": ours_summary(ours_warm["checks"]),
        "theirs_checks": theirs_summary(theirs["checks"]),
        "duckdb": {"ours": ours_warm["duckdb"], "theirs": theirs_warm["duckdb"]},
    }
    if fixes:
        result["theirs_as_written"] = {"result": as_written["result"], "failed": failures(as_written["checks"])}
        result["theirs_workarounds"] = fixes
    return result, not_run_reasons(theirs["checks"])


def port_rows(parquet: Path) -> int:
    import pyarrow.parquet as pq

    return pq.read_metadata(parquet).num_rows


def doctored_types(candidates: list[tuple], folder: Path, env: dict) -> dict:
    """The smallest published port with a DECIMAL(15,2) column, that column rewritten as DOUBLE:
    the values still fit the contract's rules, only the physical type breaks it."""
    import duckdb

    port, parquet = min(candidates, key=lambda c: port_rows(c[1]))
    column = next(c.name for c in port.contract.columns if doctorable(c))
    doctored = folder / f"doctored-{parquet.name}"
    duckdb.sql(f"copy (select * replace (cast(\"{column}\" as double) as \"{column}\") from read_parquet('{parquet}')) "
               f"to '{doctored}' (format parquet)")
    copy, _ = contract_copy(port.contract, doctored, folder, workarounds=True)
    ours, _ = report([str(BIN / "python"), "-c", OURS_REPORT, str(port.contract.file), str(doctored), "0"], env)
    theirs = verdict(copy, env)
    about_column = [{k: c[k] for k in ("type", "result", "reason")} for c in theirs["checks"] if c["field"] == column]
    return {
        "port": "/".join(port.asset_key),
        "column": column,
        "change": f"{DOCTORED_TYPE} stored as DOUBLE (DuckDB cast, same values)",
        "ours_passed": all(c["passed"] for c in ours["checks"]),
        "ours_failed": [{"name": c["name"], "observed": c["observed"]} for c in ours["checks"] if not c["passed"]],
        "theirs_result": theirs["result"],
        "theirs_checks_on_column": about_column,
    }


def doctorable(column) -> bool:
    return column.physical_type.upper().replace(" ", "") == DOCTORED_TYPE


def selected_ports(mesh, wanted: list[str] | None) -> list:
    ports = {"/".join(p.asset_key): p for d in mesh.domains for p in d.output_ports}
    unknown = sorted(set(wanted or []) - set(ports))
    if unknown:
        raise SystemExit(f"unknown port(s) {', '.join(unknown)}; ports are {', '.join(sorted(ports))}")
    return [ports[name] for name in (wanted or sorted(ports))]


def run(args, home: Path, env: dict, built: dict | None) -> dict:
    from platform_lib.mesh import load_mesh
    from platform_lib.ports.catalog import PortCatalog
    from platform_lib.tpch.seed import seeded_scale_factor

    load_before, commit_before = os.getloadavg(), platform_commit()
    catalog, mesh = PortCatalog(), load_mesh()
    everything = [p for d in mesh.domains for p in d.output_ports]
    published = {p.asset_key: published_file(catalog, p.asset_key) for p in everything}
    ports, not_run = {}, {}
    with tempfile.TemporaryDirectory(prefix="audit-vs-datacontract-") as scratch:
        folder = Path(scratch)
        for port in selected_ports(mesh, args.ports.split(",") if args.ports else None):
            if published[port.asset_key] is None:
                raise SystemExit(f"{'/'.join(port.asset_key)} has no published version in {home}")
            # Both tools read the file through one link in the scratch folder: our audit puts its
            # scratch DuckDB beside the file, which must not be the mesh's warehouse.
            link = folder / f"{'__'.join(port.asset_key)}.parquet"
            link.symlink_to(published[port.asset_key])
            ports["/".join(port.asset_key)], reasons = measure(port, link, folder, args.repeats, env)
            not_run.update(reasons)
        candidates = [(p, published[p.asset_key]) for p in everything if published[p.asset_key] and any(map(doctorable, p.contract.columns))]
        types = doctored_types(candidates, folder, env) if candidates else None
    return {
        "scale_factor": seeded_scale_factor(),
        "mesh_home": str(home) if args.home else "temporary, seeded and run by this script",
        **({"mesh_build_seconds": built} if built else {}),
        "cores": os.cpu_count(),
        # Other work on the machine moves these figures: read them against its load.
        "load_average_1min": {"start": round(load_before[0], 2), "end": round(os.getloadavg()[0], 2)},
        "platform_commit": commit_before if platform_commit() == commit_before else f"{commit_before}, then {platform_commit()} (changed during the run)",
        "repeats": args.repeats,
        "datacontract_cli": "1.2.8 (bench/datacontract/requirements.txt)",
        "ports": ports,
        "all_ports": {mode: totals(ports, mode) for mode in ("process", "warm")},
        "datacontract_not_run": not_run,
        "physical_types": types,
    }


def platform_commit() -> str:
    """The commit our audit ran from, marked when its code differs from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "platform_lib/quality", "platform_lib/descriptors"],
                           cwd=REPO, capture_output=True, text=True).stdout.strip()
    return head + (" (platform_lib/quality or descriptors modified)" if dirty else "")


def totals(ports: dict, mode: str) -> dict:
    ours, theirs = (round(sum(p[f"{side}_{mode}_s"] for p in ports.values()), 2) for side in ("ours", "theirs"))
    return {"ours_s": ours, "theirs_s": theirs, "ratio_theirs_to_ours": round(theirs / ours, 2) if ours else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="MESH_HOME of a mesh that has run (default: seed and run one in a temp folder)")
    parser.add_argument("--sf", type=float, default=0.1, help="scale factor of the mesh made without --home")
    parser.add_argument("--ports", help="comma-separated ports, e.g. sales/line_items_v1 (default: every output port)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(OUT), help="where to write the JSON (default: bench/audit_vs_datacontract.json)")
    args = parser.parse_args()
    home = Path(args.home).resolve() if args.home else Path(tempfile.mkdtemp(prefix="mesh-audit-bench-"))
    env = mesh_env(home)
    # platform_lib's settings read MESH_HOME at call time, from this process's environment.
    for name in set(os.environ) - set(env):
        del os.environ[name]
    os.environ.update(env)
    try:
        theirs_venv()
        built = None if args.home else build_mesh(args.sf, env)
        result = run(args, home, env, built)
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(result, indent=2))
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
