"""The self-serve data platform: domains call `domain_definitions(__file__)` and write only YAML and SQL."""


def __getattr__(name: str):
    # Imported lazily: the `mesh` CLI uses this package too, and most commands need no Dagster.
    if name == "domain_definitions":
        from platform_lib.definitions import domain_definitions

        return domain_definitions
    raise AttributeError(name)


__all__ = ["domain_definitions"]
