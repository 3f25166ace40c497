"""A domain on Spark: dbt-spark's `session` method, the driver in the domain's own run process and
the executors on a Spark standalone cluster (deploy.spark_cluster; `local[2]` without one).

Why `session` and not `thrift`: a Thrift server is one long-lived driver that every client shares,
with one identity and one metastore; in session mode each domain run is its own Spark application,
started by the run's process with the domain's identity, reading only what its binding staged, with
the domain's own warehouse folder and metastore (Derby, one process at a time: the domain's run
lock already serializes its runs). It also needs no server to stay up between runs.

The platform creates the run's session before dbt does (with the configuration the generated
profile names, so a plain `dbt build` in the project makes the same one); dbt-spark's
`getOrCreate` then finds it, and the input views the binding created in it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from platform_lib.settings import mesh_home
from platform_lib.sql import sql_string

# The cluster's master, as `mesh up` and the test fixtures give it to a domain's processes.
MASTER = "MESH_SPARK_MASTER"
# Without a cluster, the run's own JVM computes, as a Spark user's laptop does.
LOCAL = "local[2]"

# One session's configuration; {master} and {folder} (the domain's warehouse folder) filled in
# twice: with values for the platform's session, with env_var() for the generated profile.
SESSION = {
    "spark.master": "{master}",
    "spark.app.name": "mesh-{domain}",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    # One core per executor: on a cluster of one-core workers an application then gets one executor per worker.
    "spark.executor.cores": "1",
    "spark.executor.memory": "512m",
    # The driver's UI would take port 4040 and up for every run; the master's UI shows the application.
    "spark.ui.enabled": "false",
    "spark.sql.warehouse.dir": "{folder}",
    "spark.hadoop.javax.jdo.option.ConnectionURL": "jdbc:derby:;databaseName={folder}/metastore_db;create=true",
    "spark.driver.extraJavaOptions": "-Dderby.system.home={folder}",
    # dbt-spark's tables are Parquet files the platform's export reads, not Hive text files.
    "spark.sql.legacy.createHiveTableByDefault": "false",
    "spark.sql.sources.default": "parquet",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.session.timeZone": "UTC",
}


class SparkUnavailable(RuntimeError):
    pass


def warehouse_folder(domain: str) -> Path:
    """The domain's Spark warehouse: its tables' Parquet files, its metastore, its staged inputs."""
    return mesh_home() / "warehouse" / f"{domain}.spark"


def _filled(domain: str, master: str, folder: str) -> dict[str, str]:
    return {key: value.format(master=master, folder=folder, domain=domain) for key, value in SESSION.items()}


def session_config(domain: str) -> dict[str, str]:
    return _filled(domain, os.environ.get(MASTER) or LOCAL, str(warehouse_folder(domain)))


def profile_parameters(domain: str) -> dict[str, str]:
    """The same configuration as dbt's profile renders it, from the environment a run gives dbt."""
    return _filled(domain, f"{{{{ env_var('{MASTER}', '{LOCAL}') }}}}", f"{{{{ env_var('MESH_HOME') }}}}/warehouse/{domain}.spark")


def session(domain: str, application: str):
    """The run's Spark session, as dbt-spark will find it; `application` names it on the cluster."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable(f"domain {domain} runs on Spark (domain.yaml: engine: spark): install the platform's spark extra "
                               "(pip install -e '.[spark]', which `make test` does)") from None
    require_java(f"domain {domain}")
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in {**session_config(domain), "spark.app.name": application}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def require_java(who: str) -> None:
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise SparkUnavailable(f"{who} runs on Spark (domain.yaml: engine: spark), which needs Java 17: "
                               "install it (apt-get install openjdk-17-jre-headless) or set JAVA_HOME")


def identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def view_statements(schema: str, table: str, files: Iterable[str]) -> list[str]:
    """A dbt source as a view over exactly the files binding pinned."""
    union = " union all ".join(f"select * from parquet.{identifier(f)}" for f in files)
    return [f"create database if not exists {identifier(schema)}",
            f"create or replace view {identifier(schema)}.{identifier(table)} as {union}"]


def table_relation(domain: str, schema: str, table: str) -> str:
    """A model's table, as the platform's DuckDB export reads it: the Parquet files Spark wrote."""
    return f"read_parquet({sql_string(str(warehouse_folder(domain) / f'{schema.lower()}.db' / table.lower() / '*.parquet'))})"

