"""The `mesh` command: one subcommand per module of platform_lib.cli."""

from __future__ import annotations

import argparse
import sys

from platform_lib.descriptors.errors import DescriptorError


def _seed(args) -> int:
    from platform_lib.mesh import load_mesh
    from platform_lib.tpch.seed import seed, seeded_scale_factor

    if seeded_scale_factor() == args.sf and not args.force:
        print(f"operational sources already seeded at scale factor {args.sf} (--force to regenerate)")
        return 0
    rows = seed(load_mesh(), args.sf)
    print(f"seeded TPC-H at scale factor {args.sf}: {sum(rows.values())} rows in {len(rows)} operational tables")
    return 0


def _prepare(args) -> int:
    from platform_lib.assets.dbt_project import prepare
    from platform_lib.mesh import load_mesh

    for domain in load_mesh().domains:
        print(f"prepared {prepare(domain.name).manifest_path}")
    return 0


def _run(args) -> int:
    from platform_lib.cli.run import run_domains
    from platform_lib.mesh import load_mesh

    mesh = load_mesh()
    runs = run_domains(mesh, args.domain, args.parallelism)
    not_run = sorted(set(args.domain or [d.name for d in mesh.domains]) - {r.domain for r in runs})
    if not_run:
        print(f"not run, an upstream domain failed: {', '.join(not_run)}", file=sys.stderr)
    return 0 if runs and all(r.success for r in runs) and not not_run else 1


def _ports(args) -> int:
    from platform_lib.cli.ports import published_ports, render

    print(render(published_ports(), args.json))
    return 0


def _lineage(args) -> int:
    from platform_lib.mesh import load_mesh
    from platform_lib.mesh.lineage import mermaid

    print(mermaid(load_mesh()))
    return 0


def _check(args) -> int:
    from pathlib import Path

    from platform_lib.cli.check import check, exit_code, render
    from platform_lib.settings import REPO_ROOT

    root = Path(args.path or REPO_ROOT).resolve()
    if not (root / "workspace.yaml").is_file():
        print(f"mesh check: {root} has no workspace.yaml; give the folder of a mesh", file=sys.stderr)
        return 2
    problems = check(root)
    if args.against:
        from platform_lib.governance.against import against
        from platform_lib.mesh import survey

        problems += against(root, args.against, survey(root / "workspace.yaml").mesh)
    print(render(problems, args.json))
    return exit_code(problems)


def _diff(args) -> int:
    from pathlib import Path

    from platform_lib.cli.diff import diff, render

    changes, violations = diff(args.old, args.new, Path.cwd())
    print(render(changes, violations, args.json))
    return 1 if violations else 0


def _ui(args) -> int:
    import os

    from platform_lib.settings import REPO_ROOT, WORKSPACE_FILE, export_environment

    export_environment()
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    os.chdir(REPO_ROOT)
    os.execv(dagster, [dagster, "dev", "-w", str(WORKSPACE_FILE), "-h", args.host, "-p", str(args.port)])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mesh", description="Run and inspect the data mesh.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("seed", help="generate TPC-H operational sources for the source-aligned domains")
    s.add_argument("--sf", type=float, default=0.1, help="TPC-H scale factor (default 0.1)")
    s.add_argument("--force", action="store_true", help="regenerate even if already seeded at this scale factor")
    s.set_defaults(func=_seed)
    s = sub.add_parser("prepare", help="parse every domain's dbt project into its manifest")
    s.set_defaults(func=_prepare)
    s = sub.add_parser("run", help="materialize products across domains, producers first")
    s.add_argument("--domain", action="append", help="only this domain (repeatable)")
    s.add_argument("--parallelism", type=int, help="domains run at once (default: one per core)")
    s.set_defaults(func=_run)
    s = sub.add_parser("ports", help="list every published output port")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=_ports)
    s = sub.add_parser("check", help="validate every descriptor and contract, and their agreement with dbt")
    s.add_argument("path", nargs="?", help="the folder of the mesh's workspace.yaml (default: this repository)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--against", metavar="GIT_REF", help="also diff every contract changed since this git ref; breaking changes need a new major")
    s.set_defaults(func=_check)
    s = sub.add_parser("diff", help="classify the changes between two versions of a contract (files or GITREF:path)")
    s.add_argument("old", help="the old version: a file, or GITREF:path")
    s.add_argument("new", help="the new version: a file, or GITREF:path")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=_diff)
    s = sub.add_parser("lineage", help="print the product-level lineage as a Mermaid flowchart")
    s.set_defaults(func=_lineage)
    s = sub.add_parser("ui", help="serve the Dagster UI on the whole workspace, with the mesh's instance")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=3000)
    s.set_defaults(func=_ui)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (DescriptorError, KeyError, ValueError, RuntimeError, OSError) as exc:
        print(f"mesh {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
