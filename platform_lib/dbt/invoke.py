"""dbt invoked in this process, as every platform path runs it (compile for `mesh prepare` and
`mesh check`, build for a domain run).

A dbt subprocess pays Python's start and dbt's imports (about 2 s of CPU) on every invocation; in
the caller's process they are paid once, and `mesh run` forks its domain runs from a parent that has
imported dbt already. No Dagster here: the asset layer turns a build's result messages into
Dagster's events.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from platform_lib.settings import environment

PARSE = "partial_parse.msgpack"

# dbt's messages that carry a node's result: dagster-dbt turns them into materializations and checks.
RESULT_EVENTS = {"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"}


@dataclass(frozen=True)
class Invocation:
    success: bool
    # Each node that errored or failed, with dbt's message; else, the invocation's own error.
    failures: list[str]
    # The result messages, as dicts (dbt's own JSON log form).
    results: list[dict]


# What the platform's profile renders from MESH_HOME and the machine: the domain's database file,
# DuckDB's extension directory, the memory limit. Parsing a project reads none of them.
_PER_HOME = frozenset({"path", "config_options", "settings"})


def _parse_survives_a_new_home() -> None:
    """dbt parses a whole project again (its macros included: seconds per domain) whenever the
    connection its profile renders differs from the kept parse's, and the platform's profile
    renders paths under MESH_HOME: every new home (a test's, a benchmark's, a domain's own under
    `mesh up`) paid a full parse on its first run. Left out of what dbt compares, the parse that
    `mesh prepare` keeps serves every home."""
    # Private: dbt compares `connection_info()`, which the adapter's `_connection_keys` lists, and
    # offers no setting to narrow it.
    from dbt.adapters.duckdb.credentials import DuckDBCredentials

    keys = DuckDBCredentials._connection_keys
    if getattr(keys, "without_home", False):
        return

    def parsed_keys(self) -> tuple[str, ...]:
        return tuple(key for key in keys(self) if key not in _PER_HOME)

    parsed_keys.without_home = True
    DuckDBCredentials._connection_keys = parsed_keys


def _flags_without_reading_the_stack() -> None:
    """The adapter names the module that registers each of its behavior flags by reading the
    source of every frame of the stack (`inspect.stack()`, then each frame's module looked up among
    every module imported): a quarter of a second per invocation under a Dagster run's deep stack.
    The module a frame runs in is its globals' `__name__`: the same name, with nothing read."""
    # Private: dbt_common offers no setting for it; the flags' source only labels a message.
    from dbt_common import behavior_flags

    def default_source() -> str:
        frame = sys._getframe(1)
        while frame is not None:
            name = frame.f_globals.get("__name__")
            if name and name != behavior_flags.__name__:
                return name
            frame = frame.f_back
        return "Unknown"

    behavior_flags.BehaviorFlagRendered._default_source = staticmethod(default_source)


def warm_up() -> None:
    """What every invocation in a fresh process pays before dbt does anything, paid once by a
    process that forks invocations: dbt's imports (about 2 s), the JSON schemas dbt builds to
    validate a project and its profile (0.6 s; cached per class once built)."""
    from dbt.adapters.duckdb.credentials import DuckDBCredentials
    from dbt.cli.main import dbtRunner  # noqa: F401
    from dbt.contracts.project import Configuration, PackageConfig, ProfileConfig, Project, ProjectFlags
    from dbt.contracts.selection import SelectorFile

    for contract in (DuckDBCredentials, Configuration, PackageConfig, ProfileConfig, Project, ProjectFlags, SelectorFile):
        contract.json_schema()


def invoke(args: list[str], env: Mapping[str, str] | None = None) -> Invocation:
    """dbt with `args`, `env` set in the process's environment (where the profile reads it) for
    this invocation only."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    _parse_survives_a_new_home()
    _flags_without_reading_the_stack()

    results = []
    with environment(env or {}):
        outcome = dbtRunner(callbacks=[lambda event: results.append(event) if event.info.name in RESULT_EVENTS else None]).invoke(args)
    failed = [f"{r.node.unique_id}: {_without_macro_stack(r.message or '')}"
              for r in getattr(outcome.result, "results", None) or [] if str(r.status) in ("error", "fail")]
    if not outcome.success and not failed:
        failed = [str(outcome.exception)]
    return Invocation(outcome.success, failed, [msg_to_dict(event) for event in results])


def _without_macro_stack(message: str) -> str:
    """dbt's message without the chain of macros that raised it: the user wrote none of them."""
    return "\n".join(line for line in message.splitlines() if not line.lstrip().startswith(("> in macro", "> called by macro")))


@contextmanager
def target_folder(project: Path, target: Path, keep_parse: bool = False) -> Iterator[Path]:
    """A target folder of the invocation's own (concurrent invocations never share artifacts),
    seeded with the project's prepared partial parse (same vars), so dbt does not parse again;
    removed afterwards with dbt's connection closed. `keep_parse`: the parse this invocation made
    becomes the project's prepared one."""
    target.mkdir(parents=True, exist_ok=True)
    prepared = project / "target" / PARSE
    if prepared.exists():
        shutil.copy(prepared, target / PARSE)
    try:
        yield target
        if keep_parse:
            _keep_parse(target / PARSE, prepared)
    finally:
        close_dbt_connection()
        shutil.rmtree(target, ignore_errors=True)


def _keep_parse(fresh: Path, kept: Path) -> None:
    """Keep the parse this run made for the next one: a parse made by another dbt, or with other
    vars or connection settings than those left out of the comparison (_PER_HOME), is replaced by
    this environment's."""
    if fresh.exists() and (not kept.exists() or fresh.read_bytes() != kept.read_bytes()):
        staged = kept.with_name(f".{kept.name}.{os.getpid()}")
        shutil.copy(fresh, staged)
        os.replace(staged, kept)


def close_dbt_connection() -> None:
    """dbt-duckdb keeps the domain's database open after an in-process invocation (its connection
    outlives the handles): the port export opens the same file read-only next, which DuckDB refuses
    while a connection with another configuration is open in the process, and another process
    cannot write the file meanwhile."""
    # Private: dbt-duckdb has no public way to close its process-wide environment.
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    if DuckDBConnectionManager._ENV is not None:
        DuckDBConnectionManager._ENV.close()
    DuckDBConnectionManager.close_all_connections()
