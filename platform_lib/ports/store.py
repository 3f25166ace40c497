"""The port store: published, immutable port versions behind a URI, with an atomic 'current' pointer.

Layout under the store root, per port asset key (domain/port_vMAJOR):
    versions/<version_id>/data.parquet     the data, never rewritten
    versions/<version_id>/manifest.json    what was published, from which run, with which checks
    current.json                           the commit point: a copy of the newest manifest

Readers resolve `current.json` first, so a half-written version is never visible; a killed publish
leaves at most an unreferenced version folder behind.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from platform_lib.settings import port_store_uri

CURRENT = "current.json"


@dataclass(frozen=True)
class PublishedVersion:
    manifest: dict

    @property
    def data_uri(self) -> str:
        return self.manifest["data_uri"]

    @property
    def version_id(self) -> str:
        return self.manifest["version_id"]


def local_path(uri: str) -> str:
    """What an engine such as DuckDB accepts: a plain path for file URIs, the URI otherwise."""
    parsed = urlparse(uri)
    return parsed.path if parsed.scheme == "file" else uri


def schema_fingerprint(schema) -> str:
    return hashlib.sha256(schema.to_string(show_schema_metadata=False).encode()).hexdigest()[:16]


class PortStore:
    def __init__(self, uri: str | None = None):
        self.uri = (uri or port_store_uri()).rstrip("/")
        self.fs, self.root = pafs.FileSystem.from_uri(self.uri)

    def _dir(self, key: tuple[str, ...]) -> str:
        return "/".join([self.root, *key])

    def _uri(self, path: str) -> str:
        scheme = urlparse(self.uri).scheme or "file"
        return f"{scheme}://{path}" if scheme == "file" else f"{scheme}://{path.lstrip('/')}"

    def _read_json(self, path: str) -> dict | None:
        try:
            with self.fs.open_input_stream(path) as f:
                return json.loads(f.read())
        except FileNotFoundError:
            return None

    def _write_json(self, path: str, data: dict) -> None:
        tmp = f"{path}.tmp"
        with self.fs.open_output_stream(tmp) as f:
            f.write(json.dumps(data, indent=2, sort_keys=True).encode())
        self.fs.move(tmp, path)

    def current(self, key: tuple[str, ...]) -> PublishedVersion | None:
        manifest = self._read_json(f"{self._dir(key)}/{CURRENT}")
        return PublishedVersion(manifest) if manifest else None

    def publish(self, key: tuple[str, ...], staged_file: Path, facts: dict) -> PublishedVersion:
        """Move a staged, audited Parquet file into the store and make it the current version."""
        now = datetime.now(timezone.utc)
        version_id = f"{now:%Y%m%dT%H%M%S%fZ}-{facts['run_id'][:8]}"
        version_dir = f"{self._dir(key)}/versions/{version_id}"
        metadata = pq.read_metadata(staged_file)
        self.fs.create_dir(version_dir)
        data_path = f"{version_dir}/data.parquet"
        if isinstance(self.fs, pafs.LocalFileSystem):
            self.fs.move(str(staged_file), data_path)
        else:
            pafs.copy_files(str(staged_file), data_path, pafs.LocalFileSystem(), self.fs)
        manifest = {
            **facts,
            "asset_key": "/".join(key),
            "version_id": version_id,
            "published_at": now.isoformat(),
            "row_count": metadata.num_rows,
            "schema_fingerprint": schema_fingerprint(metadata.schema.to_arrow_schema()),
            "data_uri": self._uri(data_path),
        }
        self._write_json(f"{version_dir}/manifest.json", manifest)
        self._write_json(f"{self._dir(key)}/{CURRENT}", manifest)
        return PublishedVersion(manifest)

    def versions(self, key: tuple[str, ...]) -> list[PublishedVersion]:
        """Every version still in the store, oldest first."""
        selector = pafs.FileSelector(f"{self._dir(key)}/versions", allow_not_found=True)
        manifests = [self._read_json(f"{info.path}/manifest.json") for info in self.fs.get_file_info(selector)]
        return sorted((PublishedVersion(m) for m in manifests if m), key=lambda v: v.version_id)

    def prune(self, key: tuple[str, ...], older_than: timedelta) -> list[str]:
        """Delete versions published before the retention window; never the current one."""
        current = self.current(key)
        cutoff = datetime.now(timezone.utc) - older_than
        pruned = []
        for version in self.versions(key):
            if current and version.version_id == current.version_id:
                continue
            if datetime.fromisoformat(version.manifest["published_at"]) < cutoff:
                self.fs.delete_dir(f"{self._dir(key)}/versions/{version.version_id}")
                pruned.append(version.version_id)
        return pruned

    def published(self) -> list[PublishedVersion]:
        """The current version of every port in the store."""
        selector = pafs.FileSelector(self.root, recursive=True, allow_not_found=True)
        found = [info.path for info in self.fs.get_file_info(selector) if info.base_name == CURRENT]
        return [PublishedVersion(self._read_json(path)) for path in sorted(found)]
