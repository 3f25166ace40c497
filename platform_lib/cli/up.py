"""`mesh up`, `mesh down`, `mesh restart LOCATION`: the production topology on this machine."""

from __future__ import annotations

from platform_lib.deploy.topology import down, plan_from_environment, restart, up


def run(args) -> int:
    plan = plan_from_environment(webserver_port=args.port, base_port=args.base_port, name=args.name)
    if args.command == "up":
        up(plan)
    elif args.command == "down":
        down(plan)
    else:
        restart(plan, args.location)
    return 0
