"""Writing scaffolded files: nothing that exists is overwritten unless asked."""

from __future__ import annotations

from pathlib import Path

from platform_lib.descriptors.fields import SAFE_NAME
from platform_lib.descriptors.yaml_file import dump


class ScaffoldError(ValueError):
    pass


def check_name(kind: str, name: str) -> str:
    if not SAFE_NAME.fullmatch(name):
        raise ScaffoldError(f"{kind} name {name!r} is not a safe name: use lowercase letters, digits and _ (start with a letter)")
    return name


def refuse_existing(paths: list[Path], force: bool) -> None:
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise ScaffoldError(f"would overwrite {', '.join(existing)}: pass --force to replace")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


__all__ = ["ScaffoldError", "check_name", "dump", "refuse_existing", "write"]
