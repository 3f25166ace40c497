"""One domain cannot act as another: under `mesh up` each identity (a domain, the platform) runs its
code server, and the runs it launches, with a home of its own and only its own secrets.

- **Its own home**: `deployment/homes/<identity>/` is the process's MESH_HOME and DAGSTER_HOME
  parent: its DuckDB warehouse, staging, run lock, captured logs, its copy of the masking key, and
  links to what it only reads (its own operational sources, the DuckDB extensions).
- **Its own secrets**: its S3 keys and catalog role in its environment, nobody else's; the keys
  of every identity stay in `deployment/access/`, which only the operator reads.
- **Its own OS user**, where `mesh up` runs as root: `<deployment>-<identity>`, owner of its home
  (mode 0700) and of its dbt project's `target/` and `logs/`. Another domain's process can then
  read neither those files nor `/proc/<pid>/environ` of its processes. Run as another user, every
  process shares that user, and the homes separate only what a well-behaved process touches:
  `mesh up` says so.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

HOMES = "homes"


def separates_users() -> bool:
    """Only root can start processes as other users."""
    return os.geteuid() == 0


def user_name(deployment: str, identity: str) -> str:
    # Users are the machine's, not the deployment's: its name keeps two deployments apart.
    return f"{deployment}-{identity}"[:32]


def ensure_user(name: str) -> int:
    """A system user without a login shell or home of its own; returns its uid."""
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        pass
    subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    return pwd.getpwnam(name).pw_uid


def drop_users(names: list[str]) -> None:
    for name in names:
        subprocess.run(["userdel", name], capture_output=True)


def unreachable(path: Path) -> Path | None:
    """The first folder on the way to `path` that users other than its owner cannot enter, if any: a
    domain's user must reach the interpreter and the code. Both ways count: as written (a virtualenv's
    bin/python) and where links lead (the interpreter it links to)."""
    for way in (Path(os.path.abspath(path)), path.resolve()):
        for folder in [*reversed(way.parents), way]:
            if folder.is_dir() and not folder.stat().st_mode & stat.S_IXOTH:
                return folder
    return None


def own_home(home: Path, identity: str, masking_key: Path, shared: Path) -> Path:
    """The identity's home under `home`/homes, made (again) for its processes: its folders, its copy
    of the masking key (hashes join across domains only under one key), and links to its operational
    sources and the DuckDB extensions in `shared` (the deployment's MESH_HOME)."""
    folder = home / HOMES / identity
    for sub in ("warehouse", "staging", "secrets", "sources", "dagster"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    key = folder / "secrets" / masking_key.name
    # A run of the domain may be reading it (`mesh up` again while the deployment runs): replaced whole, and
    # only if it differs, never missing for a moment (a missing key file would be created anew, a new key).
    if not key.exists() or key.read_bytes() != masking_key.read_bytes():
        staged = key.with_suffix(".new")
        staged.unlink(missing_ok=True)
        shutil.copyfile(masking_key, staged)
        staged.chmod(0o400)
        staged.replace(key)
    for link, target in ((folder / "sources" / identity, shared / "sources" / identity), (folder / "duckdb_extensions", shared / "duckdb_extensions")):
        if not link.is_symlink():
            link.symlink_to(target, target_is_directory=True)
    return folder


def hand_over(uid: int, paths: list[Path]) -> None:
    """`paths` (and all under them) to the user `uid`, each top folder entered by it alone."""
    for top in paths:
        if not top.exists():
            continue
        for path in [top, *top.rglob("*")]:
            if not path.is_symlink():
                os.chown(path, uid, -1)
        top.chmod(0o700)


def let_through(folders: list[Path]) -> None:
    """Folders on the way to the homes and what they link to: entered by anyone, listed by their owner."""
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(folder.stat().st_mode | stat.S_IXOTH)
