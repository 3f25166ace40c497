"""The cost of publishing one audited, staged port version: the old port store (commit 76ffcde,
`PortStore.publish`: move the file, write manifest.json and current.json) against HEAD's Iceberg
publication (`platform_lib.ports.publish.publish`: move the file, one catalog commit), on the same
staged files, in one run.

    python bench/publish_cost.py --sf 1

The staged files are TPC-H data (DuckDB's dbgen) shaped like the real ports: the columns of each
port's contract, written the way `stage` writes them (DuckDB COPY, Parquet, zstd), and checked
against the contract before anything is timed. Only the publication is timed: staging, the audit
and HEAD's `begin` (which opens the table before the audit) are not. Each port is published once
untimed (the first version of a table, imports), then REPEATS times; the median is reported.
Nothing here asserts a time: the numbers are for reading. Writes bench/publish_cost.json.
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
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OLD_COMMIT = "76ffcde"
REPEATS = 3

# Port asset key -> the SQL over dbgen's tables that gives the port's rows, as the domains' dbt
# models do (dbt_projects/sales/models/staging/*.sql, dbt_projects/customers/models/products/geography.sql).
PORTS = {
    ("sales", "line_items_v1"): """select l_orderkey as order_key, l_linenumber as line_number, l_partkey as part_key,
        l_suppkey as supplier_key, l_quantity as quantity, l_extendedprice as extended_price, l_discount as discount,
        l_tax as tax, l_returnflag as return_flag, l_linestatus as line_status, l_shipdate as ship_date,
        l_commitdate as commit_date, l_receiptdate as receipt_date, l_shipinstruct as ship_instructions,
        l_shipmode as ship_mode, l_comment as comment from lineitem""",
    ("sales", "orders_v1"): """select o_orderkey as order_key, o_custkey as customer_key, o_orderstatus as order_status,
        o_totalprice as total_price, o_orderdate as order_date, o_orderpriority as order_priority, o_clerk as clerk,
        o_shippriority as ship_priority, o_comment as comment from orders""",
    ("customers", "geography_v2"): """select n_nationkey as nation_key, n_name as nation, r_regionkey as region_key,
        r_name as region from nation join region on n_regionkey = r_regionkey order by n_nationkey""",
}

# Run in a fresh interpreter with the old commit's worktree first on PYTHONPATH.
OLD_PUBLISH = """
import json, shutil, statistics, sys, time, uuid
from pathlib import Path
worktree, store_uri, work, repeats, jobs = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5])
import platform_lib
assert platform_lib.__file__.startswith(worktree), platform_lib.__file__
from platform_lib.ports.store import PortStore
result = {}
for job in jobs:
    key, seconds = tuple(job["key"]), []
    for i in range(1 + repeats):
        run_id = uuid.uuid4().hex
        staged = work / run_id / "data.parquet"
        staged.parent.mkdir(parents=True)
        shutil.copyfile(job["staged"], staged)
        facts = {"domain": key[0], "product": job["product"], "port": job["port"], "contract_id": job["contract_id"],
                 "contract_version": job["contract_version"], "run_id": run_id, "checks": job["checks"]}
        started = time.perf_counter()
        PortStore(store_uri).publish(key, staged, facts)
        if i:  # the first publication of each port is the untimed warm-up
            seconds.append(time.perf_counter() - started)
        shutil.rmtree(staged.parent)
    result["/".join(key)] = statistics.median(seconds)
print(json.dumps(result))
"""


def stage_tpch(sf: float, folder: Path) -> dict[tuple[str, str], Path]:
    """dbgen at a scale factor into a scratch database, then one staged Parquet file per port."""
    from platform_lib.tpch import connect

    staged = {}
    with connect() as con:
        con.execute(f"ATTACH '{folder / 'dbgen.duckdb'}' AS gen")
        con.execute("USE gen")
        con.execute("CALL dbgen(sf = ?)", [sf])
        for key, select in PORTS.items():
            staged[key] = folder / f"{key[0]}__{key[1]}.parquet"
            con.execute(f"COPY ({select}) TO '{staged[key]}' (FORMAT parquet, COMPRESSION zstd)")
    (folder / "dbgen.duckdb").unlink()
    return staged


def checks_of(contract) -> list[dict]:
    """What an audit that passed records: the schema check and one passing outcome per contract rule."""
    from platform_lib.quality.rules import SCHEMA_CHECK, contract_rules

    names = [SCHEMA_CHECK] + [rule.name for rule in contract_rules(contract)]
    return [{"name": n, "passed": True, "description": "", "observed": None, "unexpected_count": 0, "sample": [], "error": None} for n in names]


def publish_after(ports: dict, staged: dict) -> dict[str, float]:
    """HEAD: `publish` of a staged, audited file into the Iceberg port catalog under $MESH_HOME."""
    from platform_lib.ports.catalog import PortCatalog
    from platform_lib.ports.publish import begin, publish, staging_folder

    catalog, result = PortCatalog(), {}
    for key, (port, product) in ports.items():
        seconds = []
        for i in range(1 + REPEATS):
            run_id = uuid.uuid4().hex
            file = staging_folder(port, run_id) / "data.parquet"
            file.parent.mkdir(parents=True)
            shutil.copyfile(staged[key], file)
            table = begin(port, file, catalog)
            started = time.perf_counter()
            publish(port, product, table, file, run_id, checks_of(port.contract), catalog)
            if i:
                seconds.append(time.perf_counter() - started)
        result["/".join(key)] = statistics.median(seconds)
    return result


def publish_before(ports: dict, staged: dict, work: Path) -> dict[str, float]:
    """Commit 76ffcde: `PortStore(uri).publish` of the same files, from a git worktree of that commit."""
    worktree = work / "worktree"
    subprocess.run(["git", "worktree", "add", "--detach", str(worktree), OLD_COMMIT], cwd=REPO, check=True, capture_output=True)
    try:
        jobs = [
            {"key": list(key), "staged": str(staged[key]), "product": port.product, "port": port.name,
             "contract_id": port.contract.id, "contract_version": port.contract.version, "checks": checks_of(port.contract)}
            for key, (port, _) in ports.items()
        ]
        env = {**os.environ, "PYTHONPATH": str(worktree)}
        out = subprocess.run(
            [sys.executable, "-c", OLD_PUBLISH, str(worktree), (work / "store").as_uri(), str(work / "staging"), str(REPEATS), json.dumps(jobs)],
            env=env, cwd=work, capture_output=True, text=True, check=False,
        )
        if out.returncode:
            raise SystemExit(f"the old publication failed:\n{out.stderr[-4000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=REPO, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sf", type=float, default=1.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mesh-publish-cost-"))
    for name in ("DAGSTER_HOME", "MESH_PORT_CATALOG", "MESH_PORT_WAREHOUSE", "MESH_S3_CREDENTIALS"):
        os.environ.pop(name, None)
    os.environ["MESH_HOME"] = str(work / "home")  # HEAD's catalog, warehouse and staging go here
    try:
        import pyarrow.parquet as pq

        from platform_lib.mesh import load_mesh
        from platform_lib.quality.schema import schema_mismatches

        mesh = load_mesh()
        ports = {
            port.asset_key: (port, product)
            for domain in mesh.domains for product in domain.products for port in product.output_ports if port.asset_key in PORTS
        }
        staged = stage_tpch(args.sf, work)
        for key, (port, _) in ports.items():
            if schema_mismatches(staged[key], port.contract):
                raise SystemExit(f"{key}: staged file does not match its contract: {schema_mismatches(staged[key], port.contract)}")

        before = publish_before(ports, staged, work)
        after = publish_after(ports, staged)
        rows = [
            {
                "port": "/".join(key),
                "rows": pq.read_metadata(staged[key]).num_rows,
                "file_mb": round(staged[key].stat().st_size / 2**20, 1),
                "before_s": round(before["/".join(key)], 4),
                "after_s": round(after["/".join(key)], 4),
                "ratio_after_to_before": round(after["/".join(key)] / before["/".join(key)], 1),
            }
            for key in PORTS
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    head = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()
    result = {"scale_factor": args.sf, "cores": os.cpu_count(), "load_average_at_end": os.getloadavg(), "repeats": REPEATS,
              "before_commit": OLD_COMMIT, "after_commit": head, "ports": rows}
    print(f"{'port':<24} {'rows':>10} {'file MB':>8} {'before s':>9} {'after s':>8} {'ratio':>6}")
    for r in rows:
        print(f"{r['port']:<24} {r['rows']:>10,} {r['file_mb']:>8} {r['before_s']:>9.4f} {r['after_s']:>8.4f} {r['ratio_after_to_before']:>6}")
    (Path(__file__).with_suffix(".json")).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
