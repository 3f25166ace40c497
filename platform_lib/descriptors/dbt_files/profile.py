"""The domain's dbt profile: its own DuckDB file, and the platform's fence."""

from __future__ import annotations

from platform_lib.descriptors.dbt_files.generated import generated
from platform_lib.descriptors.domain import DOMAIN_FILE, Domain

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


def profile(domain: Domain) -> str:
    return generated(domain, [domain.folder / DOMAIN_FILE], PROFILE.format(name=domain.name))
