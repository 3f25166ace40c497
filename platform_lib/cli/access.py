"""`mesh access render --out DIR`: the storage's access rules and each domain's keys, from the contracts.

Run it again after a grant changes, then restart the storage with the new `s3.json`: keys already
in DIR are kept, so the domains' credentials stay valid."""

from __future__ import annotations

import sys
from pathlib import Path

from platform_lib.governance.policies import unknown_grantees
from platform_lib.mesh import load_mesh
from platform_lib.ports.identities import PLATFORM, readable_ports, write_identities
from platform_lib.settings import WORKSPACE_FILE


def render(out: Path) -> int:
    mesh = load_mesh(WORKSPACE_FILE)
    # A grant to no domain would be rendered as nothing today and inherited by a domain of that name tomorrow.
    unknown = [problem for domain in mesh.domains for problem in unknown_grantees(domain, {d.name for d in mesh.domains})]
    if unknown:
        print("\n".join(map(str, unknown)), file=sys.stderr)
        print(f"mesh access render: nothing written to {out}; fix the grants above first", file=sys.stderr)
        return 1
    config = write_identities(out, mesh)
    print(f"{config}: the storage's identities (weed server -s3.config={config})")
    print(f"{out / PLATFORM}.json: {PLATFORM} (admin: creates the bucket, runs governance reads)")
    every = sum(len(d.output_ports) for d in mesh.domains)
    for domain in mesh.domains:
        readable = len(readable_ports(mesh, domain.name))
        print(f"{out / domain.name}.json: {domain.name} writes its own ports, reads the data of {readable} of {every} ports")
    return 0
