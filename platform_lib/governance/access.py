"""The control port: who may read a port. A contract's ODCS `roles` say which domains each role
is granted to (`customProperties: grantedTo`); the mesh-wide role `mesh_reader` is granted to
every domain. A consumer names, per input port, the role it reads with (`inputRoles`)."""

from __future__ import annotations

from platform_lib.descriptors.contract import Contract
from platform_lib.descriptors.product import OutputPort, Product
from platform_lib.mesh import Mesh

PUBLIC_ROLE = "mesh_reader"


def is_public(contract: Contract) -> bool:
    return PUBLIC_ROLE in contract.roles


def granted(contract: Contract, role: str, domain: str) -> bool:
    return role == PUBLIC_ROLE and is_public(contract) or domain in contract.roles.get(role, ())


def producing_product(mesh: Mesh, port: OutputPort) -> Product:
    return next(p for p in mesh.domain(port.domain).products if p.name == port.product)


def whom_to_ask(mesh: Mesh, port: OutputPort) -> str:
    product = producing_product(mesh, port)
    contacts = [c for c in (product.owner, *product.support) if c]
    return f"the {port.domain} domain ({', '.join(contacts)})" if contacts else f"the {port.domain} domain"
