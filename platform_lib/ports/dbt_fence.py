"""dbt-duckdb's hook into a domain's dbt sessions: in a platform run, each session dbt opens reaches
only the files the run bound (its operational sources, the port versions it pinned), before dbt
runs anything in it. Every domain's profile names this module under `plugins:` (`mesh new domain`
writes it; a run refuses a profile without it, ports.binding.require_profile).

A plugin, not the profile's `settings:`: dbt-duckdb runs those on every cursor it opens, and the
second cursor's `SET allowed_paths` is refused once the fence is closed. A dbt run outside the
platform (a developer's, the bench's plain `dbt build`) is not fenced.
"""

from __future__ import annotations

import json
import os

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin

from platform_lib.sql import fence

# How a platform run hands its dbt sessions the files it bound: a JSON list, set only while dbt runs.
READABLE = "MESH_DBT_READABLE"


def fenced(files: list[str]) -> dict[str, str]:
    """The environment in which the DuckDB sessions dbt opens reach only `files`: a run's dbt is
    invoked in it (settings.environment)."""
    return {READABLE: json.dumps(files)}


class Plugin(BasePlugin):
    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        readable = os.environ.get(READABLE)
        if readable is not None:
            # No extension loads once the fence is closed: httpfs (ports on S3, whose s3:// URIs
            # allowed_paths takes) is loaded first.
            conn.execute("LOAD httpfs")
            fence(conn.execute, json.loads(readable))
