"""The `mesh` command: one subcommand per module of platform_lib.cli."""

from __future__ import annotations

import argparse
import sys

from platform_lib.descriptors.errors import DescriptorError


def _seed(args) -> int:
    from platform_lib.mesh import load_mesh
    from platform_lib.tpch.seed import seed

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

    results = run_domains(load_mesh(), args.domain)
    return 0 if results and all(ok for _, ok, _ in results) else 1


def _ports(args) -> int:
    from platform_lib.cli.ports import published_ports, render

    print(render(published_ports(), args.json))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mesh", description="Run and inspect the data mesh.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("seed", help="generate TPC-H operational sources for the source-aligned domains")
    s.add_argument("--sf", type=float, default=0.1, help="TPC-H scale factor (default 0.1)")
    s.set_defaults(func=_seed)
    s = sub.add_parser("prepare", help="parse every domain's dbt project into its manifest")
    s.set_defaults(func=_prepare)
    s = sub.add_parser("run", help="materialize products across domains, producers first")
    s.add_argument("--domain", action="append", help="only this domain (repeatable)")
    s.set_defaults(func=_run)
    s = sub.add_parser("ports", help="list every published output port")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=_ports)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (DescriptorError, KeyError, ValueError) as exc:
        print(f"mesh {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
