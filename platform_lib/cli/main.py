"""The `mesh` command: one subcommand per module of platform_lib.cli."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

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

    mesh = load_mesh()
    for domain in mesh.domains:
        print(f"prepared {prepare(domain.dbt_project_dir, mesh).manifest_path}")
    return 0


def _run(args) -> int:
    if not args.cold:
        from platform_lib.cli.warm import forward

        # Run by the warm process serving this home, when one does (cli.warm).
        code = forward(args.argv)
        if code is not None:
            return code
    from platform_lib.cli.run import run

    return run(args)


def _warm(args) -> int:
    from platform_lib.cli.warm import serve, socket_path

    return serve(args.idle, ready=lambda: print(f"mesh warm: `mesh run` on this home forks from here ({socket_path()}); Ctrl-C stops",
                                                file=sys.stderr, flush=True))


def _ports(args) -> int:
    from platform_lib.cli.ports import published_ports, render, rollback

    if args.ports_command == "rollback":
        return rollback(args.port, args.to, args.reason)
    print(render(published_ports(), args.json))
    return 0


def _access(args) -> int:
    from platform_lib.cli.access import render

    return render(Path(args.out))


def _deployment(args) -> int:
    from platform_lib.cli.up import run

    return run(args)


def _contract(args) -> int:
    from platform_lib.cli.contract import run

    return run(args)


def _lineage(args) -> int:
    from platform_lib.cli.lineage import run

    return run(args)


def _check(args) -> int:
    from platform_lib.cli.check import run

    return run(args)


def _diff(args) -> int:
    from platform_lib.cli.diff import diff, render

    changes, violations = diff(args.old, args.new, Path.cwd())
    print(render(changes, violations, args.json))
    return 1 if violations else 0


def _new(args) -> int:
    from platform_lib.settings import MESH_ROOT, WORKSPACE_FILE

    if args.kind == "domain":
        from platform_lib.scaffold.domain import new_domain

        written = new_domain(MESH_ROOT, args.name, args.team, args.email, args.description, args.cron, args.force)
    else:
        from platform_lib.descriptors.domain import load_domain
        from platform_lib.mesh import domain_folders, load_mesh
        from platform_lib.scaffold.product import new_product

        folders = domain_folders(WORKSPACE_FILE)
        if args.domain not in folders:
            raise KeyError(f"no domain {args.domain!r} in {WORKSPACE_FILE}; create it with `mesh new domain {args.domain}`")
        written = new_product(load_mesh(WORKSPACE_FILE), load_domain(folders[args.domain]), args.name, args.from_port or [], args.force,
                              args.from_contract)
        contract = next(path for path in written if path.name.endswith(".odcs.yaml"))
        print("\n".join(f"wrote {path}" for path in written))
        if args.from_contract:
            from platform_lib.cli.check import lint

            # What the brought contract still needs before the mesh can publish it.
            found = lint(contract)
            print("\n".join(line for case in found for line in [case.verdict, *map(str, case.problems)] if line))
            print(f"next: give {contract.name} what the mesh's profile needs (above), `mesh prepare`, make the SQL's columns, then `mesh check`")
            return 0
        print(f"next: edit the SQL, `mesh contract sync {contract}` to take its columns and types, describe them, then `mesh check`")
        return 0
    print("\n".join(f"wrote {path}" for path in written))
    print("next: edit the SQL and the contract, then `mesh check`")
    return 0


def _catalog(args) -> int:
    from platform_lib.cli.catalog import run
    from platform_lib.settings import assume_identity

    assume_identity("platform")
    if args.action in ("search", "show", "build") and not args.terms:
        print(f"mesh catalog {args.action}: give {'the text' if args.action == 'search' else 'a URN' if args.action == 'show' else 'the output folder'}", file=sys.stderr)
        return 2
    return run(args)


def _ui(args) -> int:
    import os

    from platform_lib.settings import MESH_ROOT, WORKSPACE_FILE, export_environment

    export_environment()
    from platform_lib.deploy.foreground import run_in_foreground

    # dg's dev, on workspace.yaml (the governance location with the domains): `dagster dev` is superseded.
    # Run, not exec'd: one Ctrl-C stops it and every process it started (deploy/foreground.py).
    dg, mesh = (os.path.join(os.path.dirname(sys.executable), name) for name in ("dg", "mesh"))
    os.chdir(MESH_ROOT)
    # Beside it, a warm process: each `mesh run` on this home, while the UI is up, forks from it (cli.warm).
    return run_in_foreground([dg, "dev", "-w", str(WORKSPACE_FILE), "-h", args.host, "-p", str(args.port)], beside=([mesh, "warm"],))


class _Defaults(argparse.ArgumentDefaultsHelpFormatter):
    """Shows the defaults that say something: not an unset value's None, nor an unset flag's False."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return action.help if action.default is None or action.default is False else super()._get_help_string(action)


def _with_defaults(**kwargs) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(formatter_class=_Defaults, **kwargs)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mesh", description="Run and inspect the data mesh.")
    # Every command's --help shows the defaults it runs with.
    sub = p.add_subparsers(dest="command", required=True, parser_class=_with_defaults)
    s = sub.add_parser("seed", help="generate TPC-H operational sources for the source-aligned domains")
    s.add_argument("--sf", type=float, default=0.1, help="TPC-H scale factor")
    s.add_argument("--force", action="store_true", help="regenerate even if already seeded at this scale factor")
    s.set_defaults(func=_seed)
    s = sub.add_parser("prepare", help="parse every domain's dbt project into its manifest")
    s.set_defaults(func=_prepare)
    s = sub.add_parser("run", help="materialize products across domains, producers first")
    s.add_argument("--domain", action="append", help="only this domain (repeatable)")
    s.add_argument("--product", action="append", metavar="URN",
                   help="only this product's dbt models and ports, in its domain (repeatable; a --domain named runs whole)")
    s.add_argument("--parallelism", type=int, help="domains run at once (default: one per core)")
    s.add_argument("--verbose", action="store_true", help="also print Dagster's and dbt's logs (the UI keeps them either way)")
    s.add_argument("--force", action="store_true", help="recompute every selected product, even those whose inputs and code did not change")
    s.add_argument("--cold", action="store_true", help="run in this process, even when a warm process (`mesh warm`, `mesh ui`) serves this home")
    s.set_defaults(func=_run)
    s = sub.add_parser("warm", help="keep what `mesh run` imports imported, and fork each `mesh run` on this home from here (`mesh ui` does too)")
    s.add_argument("--idle", type=float, metavar="MINUTES", help="stop after this long without a command (default: only on Ctrl-C)")
    s.set_defaults(func=_warm)
    s = sub.add_parser("ports", help="list every published output port; `mesh ports rollback` restores an older version")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=_ports, ports_command=None)
    rb = s.add_subparsers(dest="ports_command", parser_class=_with_defaults).add_parser(
        "rollback", help="publish a retained older version of a port again, as a new version that records why (consumers accept it)")
    rb.add_argument("port", metavar="DOMAIN.PORT_vN", help="the port, as `mesh ports` names it")
    rb.add_argument("--to", type=int, required=True, metavar="SNAPSHOT", help="the retained snapshot whose content becomes current")
    rb.add_argument("--reason", required=True, help="why: kept in the new version's facts for consumers to read")
    s = sub.add_parser("access", help="render the object store's identities from the contracts' grants")
    s.add_argument("action", choices=["render"])
    s.add_argument("--out", required=True, help="folder for s3.json (SeaweedFS identities) and each identity's credentials")
    s.set_defaults(func=_access)
    s = sub.add_parser("check", help="validate every descriptor and contract, and their agreement with dbt; or lint one file")
    s.add_argument("path", nargs="?", help="the folder of the mesh's workspace.yaml (default: this repository), "
                   "or one contract (*.odcs.yaml), product descriptor (product.odps.yaml) or domain.yaml to lint on its own")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML, for CI systems")
    s.add_argument("--against", metavar="GIT_REF", help="also diff every contract changed since this git ref; breaking changes need a new major")
    s.set_defaults(func=_check)
    s = sub.add_parser("diff", help="classify the changes between two versions of a contract (files or GITREF:path)")
    s.add_argument("old", help="the old version: a file, or GITREF:path")
    s.add_argument("new", help="the new version: a file, or GITREF:path")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=_diff)
    s = sub.add_parser("contract", help="sync a draft contract's columns and types from what its dbt model makes")
    s.add_argument("action", choices=["sync"])
    s.add_argument("contract", help="the contract file (*.odcs.yaml) or its id (urn:mesh:contract:<domain>:<port>, optionally @MAJOR)")
    s.set_defaults(func=_contract)
    s = sub.add_parser("lineage", help="print the product-level lineage as a Mermaid flowchart, or one column's walk across domains")
    s.add_argument("--column", metavar="DOMAIN.PORT_vN.COLUMN", help="one port column's lineage both ways (sales.line_items_v1.discount)")
    s.set_defaults(func=_lineage)
    s = sub.add_parser("new", help="scaffold a domain or a product (self-serve: no platform code to write)")
    kinds = s.add_subparsers(dest="kind", required=True, parser_class=_with_defaults)
    d = kinds.add_parser("domain", help="a code location, its dbt project and descriptor folder, registered in workspace.yaml")
    d.add_argument("name")
    d.add_argument("--team", help="owning team's name (default <domain>_team)")
    d.add_argument("--email", help="owning team's email (default <domain>@mesh.example)")
    d.add_argument("--description")
    d.add_argument("--cron", default="0 7 * * *", help="the domain's schedule, UTC")
    d.add_argument("--force", action="store_true", help="overwrite existing files")
    d.set_defaults(func=_new)
    pr = kinds.add_parser("product", help="a product reading other domains' ports: descriptor, contract, dbt model, sources")
    pr.add_argument("domain")
    pr.add_argument("name")
    pr.add_argument("--from-port", action="append", metavar="URN", help="contract id of an upstream port, optionally @MAJOR (repeatable)")
    pr.add_argument("--from-contract", type=Path, metavar="FILE",
                    help="an ODCS contract the team already has (datacontract-cli, another tool): the product's, with the mesh's ids filled in")
    pr.add_argument("--force", action="store_true", help="overwrite existing files")
    pr.set_defaults(func=_new)
    s = sub.add_parser("catalog", help="find products: list, search TEXT, show URN, build OUT/ (a static site)")
    s.add_argument("action", choices=["list", "search", "show", "build"])
    s.add_argument("terms", nargs="*", help="search text, a product or contract URN, or the output folder")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--ui-url", default="http://127.0.0.1:3000", help="the Dagster UI the pages link to")
    s.set_defaults(func=_catalog)
    for name, text in (("up", "start the production topology here: PostgreSQL instance and port catalog, S3, a code server per location, daemon, webserver"),
                       ("down", "stop what `mesh up` started"),
                       ("restart", "restart one location's code server (new code), the others keep serving")):
        s = sub.add_parser(name, help=text)
        if name == "restart":
            s.add_argument("location")
        s.add_argument("--port", type=int, default=3000, help="the webserver's port")
        s.add_argument("--base-port", type=int, default=4100, help="code servers from here, SeaweedFS from here + 50")
        s.add_argument("--name", default="mesh", help="the deployment's name: its databases are <name>_dagster and <name>_ports")
        s.set_defaults(func=_deployment)
    s = sub.add_parser("ui", help="serve the Dagster UI on the whole workspace, with the mesh's instance")
    s.add_argument("--host", default="127.0.0.1", help="the address the UI listens on")
    s.add_argument("--port", type=int, default=3000, help="the UI's port")
    s.set_defaults(func=_ui)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return args.func(args)
    except (DescriptorError, KeyError, ValueError, RuntimeError, OSError) as exc:
        print(f"mesh {args.command}: {exc}", file=sys.stderr)
        return 1
    finally:
        # The process ends with the command. The interpreter's last collections would walk every
        # object it built (Dagster's, pyiceberg's: 0.8 s of a `mesh run` with nothing changed)
        # only to find what exit frees anyway.
        gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
