"""The domain's dbt profile: its own DuckDB file and the platform's fence, or its Spark session."""

from __future__ import annotations

from platform_lib.dbt.files.generated import generated
from platform_lib.descriptors.domain import DOMAIN_FILE, Domain
from platform_lib.descriptors.yaml_file import dump
from platform_lib.engines import SPARK
from platform_lib.engines.spark import profile_parameters

PROFILE = """# The platform sets MESH_HOME; each domain writes only its own DuckDB file, and reads other domains'
# ports (Iceberg data files) with its own S3 identity when the port warehouse is on S3.
{name}:
  target: mesh
  outputs:
    mesh:
      type: duckdb
      path: "{{{{ env_var('MESH_WAREHOUSE_PATH', env_var('MESH_HOME') ~ '/warehouse/{name}.duckdb') }}}}"
      threads: 2
      settings:
        memory_limit: "{{{{ env_var('MESH_DUCKDB_MEMORY_LIMIT') }}}}"
      # httpfs and iceberg, installed there from their PyPI packages: DuckDB autoloads them offline.
      config_options:
        extension_directory: "{{{{ env_var('MESH_HOME') }}}}/duckdb_extensions"
      # The platform's fence: in a platform run this session reads only the files bound for the
      # run (its operational sources, the port versions it pinned); a run refuses a profile without it.
      plugins:
        - module: platform_lib.ports.dbt_fence
      secrets:
        - type: s3
          key_id: "{{{{ env_var('MESH_S3_ACCESS_KEY_ID', '') }}}}"
          secret: "{{{{ env_var('MESH_S3_SECRET_ACCESS_KEY', '') }}}}"
          endpoint: "{{{{ env_var('MESH_S3_ENDPOINT', '').split('://')[-1] }}}}"
          use_ssl: "{{{{ env_var('MESH_S3_ENDPOINT', '').startswith('https') }}}}"
          region: "{{{{ env_var('MESH_S3_REGION', 'us-east-1') }}}}"
          url_style: path
      # Absorbs short lock races with readers of this domain's file.
      retries:
        query_attempts: 3
"""


SPARK_PROFILE = """# engine: spark. The platform runs the domain's dbt in its own run process as a Spark application
# (dbt-spark's session method) on the cluster MESH_SPARK_MASTER names, local mode without one; the
# models' tables are Parquet files in the domain's own warehouse folder, where the platform exports
# its ports from.
"""


def profile(domain: Domain) -> str:
    if domain.engine == SPARK:
        outputs = {"mesh": {"type": "spark", "method": "session", "host": "127.0.0.1", "schema": domain.name, "threads": 2,
                            "server_side_parameters": profile_parameters(domain.name)}}
        return generated(domain, [domain.folder / DOMAIN_FILE], SPARK_PROFILE + dump({domain.name: {"target": "mesh", "outputs": outputs}}))
    return generated(domain, [domain.folder / DOMAIN_FILE], PROFILE.format(name=domain.name))
