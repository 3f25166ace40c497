"""YAML documents that remember where each field was written, so errors can name the line."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from platform_lib.descriptors.errors import DescriptorError, Problem

# libyaml parses descriptors several times faster; every code location parses the whole mesh's.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlDocument:
    def __init__(self, path: Path, data: Any, lines: dict[tuple, int]):
        self.path = path
        self.data = data
        self._lines = lines

    def line(self, *field_path: str | int) -> int | None:
        """The line of the nearest written ancestor of a field path."""
        parts = tuple(field_path)
        while parts not in self._lines and parts:
            parts = parts[:-1]
        return self._lines.get(parts)

    def problem(self, message: str, *field_path: str | int) -> Problem:
        return Problem(self.path, dotted(field_path), message, self.line(*field_path))

    def fail(self, message: str, *field_path: str | int) -> DescriptorError:
        return DescriptorError([self.problem(message, *field_path)])


def dotted(field_path: tuple) -> str:
    out = ""
    for part in field_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_yaml(path: Path, text: str | None = None) -> YamlDocument:
    """`text`: the document's content when it was not read from `path` (a published contract).

    A file is parsed once per process while it is unchanged: descriptors are read again by the
    policies that judge them (a mesh check of 500 ports read its files three times). Each caller
    gets its own copy of the data."""
    if text is None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise DescriptorError([Problem(path, "", "file not found")]) from None
        data, lines = _parsed_file(path, stat.st_mtime_ns, stat.st_size)
        return YamlDocument(path, copy.deepcopy(data), lines)
    return YamlDocument(path, *_parse(path, text))


@lru_cache(maxsize=4096)
def _parsed_file(path: Path, mtime_ns: int, size: int) -> tuple[Any, dict[tuple, int]]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise DescriptorError([Problem(path, "", "file not found")]) from None
    return _parse(path, text)


def _parse(path: Path, text: str) -> tuple[Any, dict[tuple, int]]:
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        raise DescriptorError([Problem(path, "", f"malformed YAML: {reason}", mark.line + 1 if mark else None)]) from None
    lines: dict[tuple, int] = {}
    data = _to_python(node, (), lines) if node is not None else None
    if not isinstance(data, dict):
        raise DescriptorError([Problem(path, "", "expected a mapping at the top of the document", 1)])
    return data, lines


def _to_python(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = key_node.value
            out[key] = _to_python(value_node, path + (key,), lines)
            # A field's line is where its key is written, not where its value starts.
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, path + (i,), lines) for i, item in enumerate(node.value)]
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
