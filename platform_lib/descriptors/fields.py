"""Typed reads of descriptor fields that fail with the file, the field and the line."""

from __future__ import annotations

import re
from typing import Any

from platform_lib.descriptors.versions import SemVer, parse_version
from platform_lib.descriptors.yaml_file import YamlDocument

# Names reach file paths, SQL identifiers and asset keys: keep them to one safe alphabet. Use it with
# fullmatch: match with a `$` lets a trailing newline through ("evil\n" became a folder's name).
SAFE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


def field(doc: YamlDocument, *path: str | int, kind: type | tuple = str, default: Any = ...) -> Any:
    value: Any = doc.data
    for i, part in enumerate(path):
        container = dict if isinstance(part, str) else list
        # A key written without a value is as good as absent; any other value is the wrong shape.
        if value is not None and not isinstance(value, container):
            wanted = f"a mapping with {part}" if container is dict else "a list"
            raise doc.fail(f"expected {wanted}, got {type(value).__name__} {value!r}", *path[:i])
        if value is None or (part not in value if container is dict else part >= len(value)):
            if default is not ...:
                return default
            raise doc.fail("required field is missing", *path[: i + 1])
        value = value[part]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise doc.fail(f"expected {expected}, got {type(value).__name__} {value!r}", *path)
    return value


def name_field(doc: YamlDocument, *path: str | int) -> str:
    value = field(doc, *path)
    if not SAFE_NAME.fullmatch(value):
        raise doc.fail(f"{value!r} is not a safe name: use lowercase letters, digits and _ (start with a letter)", *path)
    return value


def version_field(doc: YamlDocument, *path: str | int) -> SemVer:
    """A semantic version field such as 1.2.0 or 2.0.0-rc.1."""
    # Numbers are read too: YAML makes an unquoted `version: 1.0` a float, and the error should say
    # to write a string rather than report a type.
    value = field(doc, *path, kind=(str, int, float))
    try:
        return parse_version(value)
    except ValueError as exc:
        raise doc.fail(str(exc), *path) from None


def major_of(doc: YamlDocument, *path: str | int) -> int:
    return version_field(doc, *path).major


def custom_property(doc: YamlDocument, *path: str | int, name: str, default: Any = None) -> tuple[tuple, Any]:
    """A `customProperties` entry of the object at `path`: (its field path, its value).

    The standards keep their extension points in these lists; the mesh's own fields (masking,
    grants, roles of input ports, end of support) live there so that descriptors stay valid ODCS/ODPS.
    """
    entries = field(doc, *path, "customProperties", kind=list, default=[])
    for i, entry in enumerate(entries):
        if isinstance(entry, dict) and entry.get("property") == name:
            return (*path, "customProperties", i, "value"), entry.get("value")
    return (*path, "customProperties"), default
