"""What content digests (issue 19) cost: a port's publication, which now hashes the staged file and
records its SHA-256 (and on S3 the store's ETag) in the snapshot, and a consumer's binding, which
now checks each data file's content too (on S3 by comparing the ETag, one HEAD request; on a local
disk by hashing the file again). Before = the same operations at commit BEFORE (statistics only),
run in the same run on the same staged files, from a git worktree of that commit.

    python bench/digest_cost.py --sf 1 3

For each scale factor, the staged files of bench/publish_cost.py (TPC-H by DuckDB's dbgen, shaped
like the real ports), published to a local port warehouse and to SeaweedFS (S3), each side with a
catalog and a bucket of its own. Each port is published once untimed, then REPEATS times; then its
current version's files are verified (`integrity.verify`, what `binding.pin` calls) once untimed,
then REPEATS times; medians. After's publication includes the orphan sweep (`remove_orphans`), also
timed alone with every file past the grace (its worst case: the table and every retained
snapshot's manifests read), and the hash alone; on S3, what binding would cost if it hashed the file
instead of comparing the ETag. Nothing here asserts a time. Writes bench/digest_cost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from publish_cost import checks_of, stage_tpch

from platform_lib.mesh import load_mesh

REPO = Path(__file__).resolve().parents[1]
BEFORE = "8a5f731"
REPEATS = 3

# Run in a fresh interpreter, platform_lib from the worktree of BEFORE or from this repository, the
# port settings in its environment. `parts` (after only): the hash, the sweep, a hashing binding.
MEASURE = """
import json, shutil, statistics, sys, time, uuid
import platform_lib
assert platform_lib.__file__.startswith(sys.argv[1]), platform_lib.__file__
from platform_lib.mesh import load_mesh
from platform_lib.ports.catalog import PortCatalog
from platform_lib.ports.integrity import verify
from platform_lib.ports.publish import begin, publish, staging_folder

jobs, repeats, parts = json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "parts"
ports = {"/".join(p.asset_key): (p, product) for d in load_mesh().domains for product in d.products for p in product.output_ports}
catalog, result = PortCatalog(), {}

def median(call, *args):
    seconds = []
    for i in range(1 + repeats):
        started = time.perf_counter()
        call(*args)
        if i:  # the first is the untimed warm-up
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)

def publish_staged(key):
    (port, product), run_id = ports[key], uuid.uuid4().hex
    file = staging_folder(port, run_id) / "data.parquet"
    file.parent.mkdir(parents=True)
    shutil.copyfile(jobs[key]["staged"], file)
    table = begin(port, file, catalog)  # before the audit, as a run does: not timed
    started = time.perf_counter()
    publish(port, product, table, file, run_id, jobs[key]["checks"], catalog)
    return time.perf_counter() - started

for key in jobs:
    publish_staged(key)
    row = {"publish_s": statistics.median(publish_staged(key) for _ in range(repeats))}
    table = catalog.table(ports[key][0].asset_key)
    row["bind_s"] = median(verify, table, table.current_snapshot(), catalog.storage)
    if parts:
        import pyarrow.fs as pafs
        from platform_lib.ports.integrity import sha256
        from platform_lib.ports.storage import path_of
        from datetime import timedelta
        row["hash_staged_s"] = median(sha256, pafs.LocalFileSystem(), jobs[key]["staged"])
        # Every file past the grace: the listing, the table and each retained snapshot's files read.
        row["orphan_sweep_s"] = median(catalog.remove_orphans, ports[key][0].asset_key, timedelta(0))
        (uri,) = catalog.data_files(table, table.current_snapshot().snapshot_id)
        row["sha256_read_s"] = median(sha256, catalog.storage.filesystem(uri), path_of(uri))
    result[key] = row
print(json.dumps(result))
"""


def measure(code_root: Path, home: Path, jobs: dict[str, dict], store: dict[str, str], parts: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESH_") and k != "DAGSTER_HOME"}
    env |= {"MESH_HOME": str(home), "PYTHONPATH": str(code_root), **store}
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(code_root), json.dumps(jobs), str(REPEATS), "parts" if parts else "-"],
        env=env, cwd=home.parent, capture_output=True, text=True, check=False,
    )
    if out.returncode:
        raise SystemExit(f"measuring {code_root} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@contextmanager
def worktree(work: Path):
    path = work / "before"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), BEFORE], cwd=REPO, check=True, capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, check=True)


@contextmanager
def s3_store(work: Path):
    """SeaweedFS with the mesh's identities; yields the port settings of a bucket per side."""
    sys.path.insert(0, str(REPO))
    from platform_lib.ports.identities import write_identities
    from tests.support.seaweed import create_bucket, seaweedfs

    config = write_identities(work / "identities", load_mesh())
    keys = json.loads((config.parent / "platform.json").read_text())
    with seaweedfs(work / "seaweed", config) as server:
        settings = {}
        for side in ("before", "after"):
            create_bucket(server.endpoint, keys, side)
            settings[side] = {"MESH_PORT_WAREHOUSE": f"s3://{side}", "MESH_S3_ENDPOINT": server.endpoint,
                              "MESH_S3_ACCESS_KEY_ID": keys["access_key"], "MESH_S3_SECRET_ACCESS_KEY": keys["secret_key"]}
        yield settings


def rows(sf: float, store: str, staged: dict[str, Path], before: dict, after: dict) -> list[dict]:
    import pyarrow.parquet as pq

    result = []
    for key, b in before.items():
        a = after[key]
        row = {
            "sf": sf, "store": store, "port": key, "rows": pq.read_metadata(staged[key]).num_rows,
            "file_mb": round(staged[key].stat().st_size / 2**20, 1),
            "publish_before_s": round(b["publish_s"], 4), "publish_after_s": round(a["publish_s"], 4),
            "publish_ratio": round(a["publish_s"] / b["publish_s"], 2),
            "hash_staged_s": round(a["hash_staged_s"], 4), "orphan_sweep_s": round(a["orphan_sweep_s"], 4),
            "bind_before_s": round(b["bind_s"], 4), "bind_after_s": round(a["bind_s"], 4),
            "bind_ratio": round(a["bind_s"] / b["bind_s"], 2),
        }
        if store == "s3":  # the ETag spares binding this read
            row["bind_if_hashed_s"] = round(b["bind_s"] + a["sha256_read_s"], 4)
        result.append(row)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sf", type=float, nargs="+", default=[1.0, 3.0])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mesh-digest-cost-"))
    os.environ["MESH_HOME"] = str(work / "home")  # dbgen's extensions go here
    contracts = {"/".join(p.asset_key): p.contract for d in load_mesh().domains for p in d.output_ports}
    results = []
    try:
        with worktree(work) as old, s3_store(work) as s3:
            for sf in args.sf:
                folder = work / f"sf{sf}"
                folder.mkdir()
                staged = {"/".join(key): path for key, path in stage_tpch(sf, folder).items()}
                jobs = {key: {"staged": str(path), "checks": checks_of(contracts[key])} for key, path in staged.items()}
                for store in ("local", "s3"):
                    sides = {}
                    for side, root in (("before", old), ("after", REPO)):
                        home = folder / f"{store}-{side}"
                        sides[side] = measure(root, home, jobs, s3[side] if store == "s3" else {}, parts=side == "after")
                    results += rows(sf, store, staged, sides["before"], sides["after"])
                shutil.rmtree(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    head = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()
    document = {"cores": os.cpu_count(), "load_average_at_end": os.getloadavg(), "repeats": REPEATS, "before_commit": BEFORE,
                "after_commit": head, "rows": results}
    Path(__file__).with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"{'sf':>3} {'store':<5} {'port':<24} {'MB':>6} {'publish before/after':>21} {'ratio':>6} {'hash':>6} {'sweep':>6} "
          f"{'bind before/after':>18} {'ratio':>6} {'bind if hashed':>14}")
    for r in results:
        print(f"{r['sf']:>3} {r['store']:<5} {r['port']:<24} {r['file_mb']:>6} {r['publish_before_s']:>10.3f} {r['publish_after_s']:>10.3f} "
              f"{r['publish_ratio']:>6} {r['hash_staged_s']:>6.3f} {r['orphan_sweep_s']:>6.3f} {r['bind_before_s']:>9.3f} "
              f"{r['bind_after_s']:>8.3f} {r['bind_ratio']:>6} {r.get('bind_if_hashed_s', ''):>14}")


if __name__ == "__main__":
    main()
