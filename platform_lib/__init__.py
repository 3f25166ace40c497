"""The self-serve data platform: a domain folder declares one `DataMeshDomain` component (its
defs/defs.yaml), its definitions.py calls `domain_definitions(__file__)`, and its team writes only
YAML and SQL."""

_DEFINITIONS = ("DataMeshDomain", "domain_definitions")


def __getattr__(name: str):
    # Imported lazily: the `mesh` CLI uses this package too, and most commands need no Dagster.
    if name in _DEFINITIONS:
        from platform_lib import definitions

        return getattr(definitions, name)
    raise AttributeError(name)


def __dir__() -> list[str]:
    # What dg's registry of component types lists (`dg check yaml`, `dg list components`).
    return sorted([*globals(), *_DEFINITIONS])


__all__ = list(_DEFINITIONS)
