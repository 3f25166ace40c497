"""Federated computational governance: the mesh's global policies as code, the access rules of
the control port, and the rules for evolving a contract. Policies run in `mesh check`, at code
location load, and in the scheduled governance job (`governance/scorecard`)."""

from platform_lib.governance.policy import Policy, Subject, finding, policy

# What a domain's own policies (`domains/<domain>/policies.py`) may import from the platform.
__all__ = ["Policy", "Subject", "finding", "policy"]
