"""Where port files live (a local folder or S3) and how each engine reaches them with this process's
identity: pyarrow and pyiceberg for the platform, DuckDB for dbt and the audit.

Port tables are laid out `<warehouse>/<domain>/<port>_v<major>/{metadata,data}/`: on S3 a domain's
identity may write only its own prefix, read every table's metadata (contracts are public) and
read the data of the ports it is granted (`mesh access render`).
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

import duckdb

from platform_lib.settings import S3, duckdb_extensions_dir, port_catalog_uri, port_warehouse, s3_settings
from platform_lib.sql import sql_string

# Loaded in this order: iceberg tries to download avro unless avro is already there.
EXTENSIONS = ("httpfs", "avro", "iceberg")


class CatalogUnreachable(RuntimeError):
    """The port catalog's database does not answer: one line, naming it (never its password)."""

    def __init__(self, uri: str, cause: Exception):
        from sqlalchemy.engine import make_url

        shown = make_url(uri).render_as_string(hide_password=True)
        reason = str(getattr(cause, "orig", None) or cause).strip().splitlines()[0]
        super().__init__(f"the port catalog {shown} does not answer ({reason}): start its database, or point MESH_PORT_CATALOG at one that runs")


def on_s3(uri: str) -> bool:
    return urlparse(uri).scheme in ("s3", "s3a")


def path_of(uri: str) -> str:
    """What pyarrow's filesystem takes: a plain path for file URIs, bucket/key for s3 URIs."""
    parsed = urlparse(uri)
    return parsed.path if parsed.scheme in ("", "file") else f"{parsed.netloc}{parsed.path}"


def engine_uri(uri: str) -> str:
    """What DuckDB reads: a plain path for file URIs, the URI itself for S3."""
    return path_of(uri) if urlparse(uri).scheme in ("", "file") else uri


@dataclass(frozen=True)
class PortStorage:
    """Where the ports are (the catalog, the folder or bucket of their tables) and who this process
    is there: the S3 identity it reads and writes with."""

    catalog_uri: str
    warehouse_uri: str
    s3: S3 = S3()

    @classmethod
    def from_settings(cls, identity: str | None = None) -> PortStorage:
        return cls(port_catalog_uri(), port_warehouse(), s3_settings(identity))

    def table_location(self, key: tuple[str, str]) -> str:
        return f"{self.warehouse_uri}/{key[0]}/{key[1]}"

    def data_location(self, key: tuple[str, str]) -> str:
        return f"{self.table_location(key)}/data"

    def filesystem(self, uri: str | None = None):
        """pyarrow's filesystem for a URI, the warehouse's by default (imported here: a code
        location's load reads no port file through it, and pyarrow with numpy costs it about 0.35 s)."""
        import pyarrow.fs as pafs

        if not on_s3(uri or self.warehouse_uri):
            return pafs.LocalFileSystem()
        endpoint = urlparse(self.s3.endpoint)
        return pafs.S3FileSystem(
            access_key=self.s3.access_key or None, secret_key=self.s3.secret_key or None, region=self.s3.region,
            endpoint_override=endpoint.netloc or None, scheme=endpoint.scheme or "https",
        )

    def iceberg_properties(self) -> dict[str, str]:
        """pyiceberg's FileIO settings: only S3 needs any."""
        if not on_s3(self.warehouse_uri):
            return {}
        return {
            "s3.endpoint": self.s3.endpoint, "s3.access-key-id": self.s3.access_key, "s3.secret-access-key": self.s3.secret_key,
            "s3.region": self.s3.region, "s3.path-style-access": "true",
        }

    def secret_sql(self) -> str | None:
        """The DuckDB secret of this identity, when ports live on S3."""
        if not on_s3(self.warehouse_uri):
            return None
        endpoint = urlparse(self.s3.endpoint)
        return (
            f"CREATE OR REPLACE SECRET mesh_ports (TYPE s3, KEY_ID {sql_string(self.s3.access_key)}, "
            f"SECRET {sql_string(self.s3.secret_key)}, ENDPOINT {sql_string(endpoint.netloc)}, URL_STYLE 'path', "
            f"USE_SSL {str(endpoint.scheme == 'https').lower()}, REGION {sql_string(self.s3.region)})"
        )


def install_extensions() -> Path:
    """Install DuckDB's httpfs, avro and iceberg from their PyPI packages into the mesh's extension
    directory, once; DuckDB then autoloads them there without any network."""
    return _install(duckdb_extensions_dir())


@cache
def _install(target: Path) -> Path:
    import duckdb_extension_httpfs  # noqa: F401  (the packages only carry the files)

    site = Path(duckdb_extension_httpfs.__file__).parent.parent
    with duckdb.connect(config={"extension_directory": str(target)}) as con:
        installed = {row[0] for row in con.execute("select extension_name from duckdb_extensions() where installed").fetchall()}
        for name in EXTENSIONS:
            if name not in installed:
                (binary,) = glob.glob(str(site / f"duckdb_extension_{name}" / "extensions" / "*" / f"{name}.duckdb_extension"))
                con.execute(f"INSTALL {sql_string(binary)}")
    return target
