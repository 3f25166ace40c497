"""YAML documents that remember where each field was written, so errors can name the line.

Descriptors come from every domain team's repository, and are read by `mesh check`, by each code
location and by each run: a document larger, deeper or (through its aliases) bigger than any
descriptor needs is refused, naming the place, before it can hang or crash any of them."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from platform_lib.descriptors.errors import DescriptorError, Problem

# libyaml parses descriptors several times faster; every code location parses the whole mesh's.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# A contract is a few kilobytes, some thousand values, nested about eight deep
# (schema[0].properties[3].quality[0].arguments.validValues[1]). These limits are far above that and
# far below what hurts: libyaml slows quadratically with nesting, and aliases multiply values.
MAX_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_VALUES = 100_000

_CORE = "tag:yaml.org,2002:"
_STR = f"{_CORE}str"
# Tags that say no more than YAML infers. Any other (!!binary, !!set, !!python/..., a local !tag)
# builds a value that the standards' JSON schemas cannot judge.
_WRITTEN_TAGS = {
    yaml.ScalarEvent: (None, "!", _STR),
    yaml.SequenceStartEvent: (None, "!", f"{_CORE}seq"),
    yaml.MappingStartEvent: (None, "!", f"{_CORE}map"),
}
# Strings are their own value; JSON's other scalars, and dates, are what else a plain scalar may be.
_CONSTRUCTORS = {f"{_CORE}{name}": _LOADER.yaml_constructors[f"{_CORE}{name}"] for name in ("int", "float", "bool", "null", "timestamp")}
_STARTS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


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


@dataclass(frozen=True)
class Place:
    """Where something was written: its document and the field path to it."""

    doc: YamlDocument
    path: tuple[str | int, ...] = ()

    def problem(self, message: str, *field_path: str | int) -> Problem:
        return self.doc.problem(message, *self.path, *field_path)

    def fail(self, message: str, *field_path: str | int) -> DescriptorError:
        return self.doc.fail(message, *self.path, *field_path)


@dataclass(frozen=True)
class Located:
    """Something read from a descriptor. It keeps its place, and with it the line of each of its
    fields, so a problem found in it later (by a policy, by `mesh check`) names the file, the field
    and the line as the loader would have, without parsing the file again, even once it changed."""

    # Not part of what the object says: two columns written alike are equal wherever they are.
    place: Place = field(kw_only=True, compare=False, repr=False)

    def problem(self, message: str, *field_path: str | int) -> Problem:
        """A problem on one of the object's fields (`column.problem(message, "physicalType")`)."""
        return self.place.problem(message, *field_path)


def dotted(field_path: tuple) -> str:
    out = ""
    for part in field_path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # A key with a line break (or nothing printable) would break the one-line report.
            name = part if part.isprintable() and part else repr(part)
            out += f".{name}" if out else name
    return out


def dump(data) -> str:
    """YAML as the platform writes it: generated dbt files, the descriptors `mesh new` and
    `mesh contract sync` write, and published contracts."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def load_yaml(path: Path, text: str | None = None) -> YamlDocument:
    """`text`: the document's content when it was not read from `path` (a published contract).

    A file is parsed once per process while it is unchanged: one process may load a descriptor
    more than once (`mesh run` surveys the mesh, then each domain's run, forked from it, loads its
    code location). Each caller gets its own copy of the data."""
    if text is None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise DescriptorError([Problem(path, "", "file not found")]) from None
        data, lines = _parsed_file(path, stat.st_mtime_ns, stat.st_size)
        return YamlDocument(path, copy.deepcopy(data), lines)
    raw = text.encode("utf-8", "surrogatepass")
    _refuse_oversized(path, len(raw))
    return YamlDocument(path, *_parse(path, raw))


def _refuse_oversized(path: Path, size: int) -> None:
    if size > MAX_BYTES:
        raise DescriptorError([Problem(path, "", f"{size} bytes: larger than any descriptor ({MAX_BYTES} at most)")])


@lru_cache(maxsize=4096)
def _parsed_file(path: Path, mtime_ns: int, size: int) -> tuple[Any, dict[tuple, int]]:
    _refuse_oversized(path, size)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DescriptorError([Problem(path, "", "file not found")]) from None
    return _parse(path, raw)


def _parse(path: Path, raw: bytes) -> tuple[Any, dict[tuple, int]]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DescriptorError([Problem(path, "", f"not UTF-8 text (byte {raw[exc.start]:#04x}): descriptors are UTF-8 YAML", line)]) from None
    loader = _LOADER(text)
    try:
        # Without an & the document has no anchors, and its events need no log.
        builder = _Builder(path, loader, anchored="&" in text)
        data = builder.document()
    except yaml.YAMLError as exc:
        raise DescriptorError([_malformed(path, raw, exc)]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise DescriptorError([Problem(path, "", "expected a mapping at the top of the document", 1)])
    return data, builder.lines


def _malformed(path: Path, raw: bytes, exc: yaml.YAMLError) -> Problem:
    """libyaml's error on one line, at the line to fix. A token the scanner could not finish is wrong
    where it began, its context (an unterminated quote's problem is the end of the file; a key
    without its colon is found out on the next line). A plain scalar runs on over lines until what
    broke it, and a parser's context is the enclosing collection, often the whole document: there
    the problem's own line is the one to fix."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        # A ReaderError (a character YAML does not allow) says where as a byte offset.
        line = raw.count(b"\n", 0, getattr(exc, "position", 0)) + 1
        return Problem(path, "", f"malformed YAML: {str(exc).splitlines()[0]}", line)
    problem = f"{exc.problem} at line {exc.problem_mark.line + 1}" if exc.problem_mark else exc.problem
    context = f"{exc.context} at line {exc.context_mark.line + 1}: " if exc.context and exc.context_mark else ""
    began_wrong = isinstance(exc, yaml.scanner.ScannerError) and exc.context != "while scanning a plain scalar"
    mark = exc.context_mark if began_wrong and exc.context_mark else exc.problem_mark
    return Problem(path, "", f"malformed YAML: {context}{problem}", mark.line + 1 if mark else None)


class _Builder:
    """The document's data and the line of each of its fields, in one pass over libyaml's events.

    No recursion, so no nesting can exhaust a stack, and the parse stops at the first value nested
    too deep, before libyaml's own cost grows. Each alias is its anchor's events replayed, so its
    values are counted as they are built: an alias bomb stops at MAX_VALUES, at once."""

    def __init__(self, path: Path, loader, anchored: bool):
        self.path, self.loader, self.anchored = path, loader, anchored
        self.lines: dict[tuple, int] = {}
        self.values = 0
        # The parser's events; an anchored node's are the slice between its start and its end.
        self.log: list[yaml.Event] = []
        self.depth = 0
        self.open_anchors: list[tuple[str, int, int]] = []
        self.anchors: dict[str, tuple[int, int]] = {}
        # Aliases being expanded, outermost first: (their anchor's remaining events, path, line).
        self.replaying: list[tuple[Any, tuple, int]] = []

    def document(self) -> Any:
        """The stream's one document; None when it has none."""
        self._next()
        if isinstance(self._next(), yaml.StreamEndEvent):
            return None
        data = self._node()
        self._next()
        event = self._next()
        if not isinstance(event, yaml.StreamEndEvent):
            raise self._fail(event, (), "a second YAML document (after ---): a descriptor is one YAML document")
        return data

    def _node(self) -> Any:
        """The next node, with everything in it."""
        open_: list[tuple[dict | list, tuple]] = []
        key = None
        while True:
            event = self._next()
            kind = type(event)
            if kind in _ENDS:
                done = open_.pop()[0]
                if not open_:
                    return done
                continue
            parent, parent_path = open_[-1] if open_ else (None, ())
            in_mapping = type(parent) is dict
            if in_mapping and key is None:
                key = self._key(event, parent, parent_path)
                continue
            path = () if parent is None else (*parent_path, key if in_mapping else len(parent))
            if kind is yaml.AliasEvent:
                self._expand(event, path)
                continue
            if not in_mapping:
                # A mapping's value is where its key is written: _key noted that line.
                self.lines[path] = event.start_mark.line + 1
            value = self._value(event, kind, path)
            if in_mapping:
                parent[key] = value
                key = None
            elif parent is not None:
                parent.append(value)
            if kind in _STARTS:
                open_.append((value, path))
            elif parent is None:
                return value

    def _key(self, event: yaml.Event, mapping: dict, path: tuple) -> str:
        if type(event) is not yaml.ScalarEvent:
            raise self._fail(event, path, "a key must be a plain value, not a list, a mapping or an alias")
        key = event.value
        if key in mapping:
            first = self.lines[(*path, key)]
            raise self._fail(event, (*path, key), f"duplicate key {key!r} (first at line {first}): one would silently replace the other")
        self.lines[(*path, key)] = event.start_mark.line + 1
        return key

    def _value(self, event: yaml.Event, kind: type, path: tuple) -> Any:
        self.values += 1
        if self.values > MAX_VALUES:
            where, line = self.replaying[0][1:] if self.replaying else (path, event.start_mark.line + 1)
            raise DescriptorError([Problem(self.path, dotted(where), f"more than {MAX_VALUES} values with its aliases expanded: no descriptor is that large", line)])
        if len(path) > MAX_DEPTH:
            raise self._fail(event, path, f"nested more than {MAX_DEPTH} deep: no descriptor is")
        if event.tag not in _WRITTEN_TAGS[kind]:
            raise self._fail(event, path, f"tag {event.tag.replace(_CORE, '!!')} is not supported: descriptors hold plain YAML values")
        if kind is yaml.MappingStartEvent:
            return {}
        if kind is yaml.SequenceStartEvent:
            return []
        return self._scalar(event, path)

    def _scalar(self, event: yaml.ScalarEvent, path: tuple) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _STR:
            return event.value
        construct = _CONSTRUCTORS.get(tag)
        if construct is None:
            raise self._fail(event, path, f"{_shown(event.value)} reads as {tag.replace(_CORE, '!!')}: quote it")
        try:
            return construct(self.loader, yaml.ScalarNode(tag, event.value))
        except ValueError as exc:
            # A date that matches YAML's pattern but not the calendar (2027-02-30), an int too long to read.
            raise self._fail(event, path, f"{_shown(event.value)} is not a valid {tag.removeprefix(_CORE)}: {exc}") from None

    def _expand(self, event: yaml.AliasEvent, path: tuple) -> None:
        span = self.anchors.get(event.anchor)
        if span is None:
            raise self._fail(event, path, f"alias *{event.anchor} names no anchor &{event.anchor} written (and ended) before it")
        self.replaying.append((iter(self.log[span[0]:span[1]]), path, event.start_mark.line + 1))

    def _next(self) -> yaml.Event:
        while self.replaying:
            event = next(self.replaying[-1][0], None)
            if event is not None:
                return event
            self.replaying.pop()
        event = self.loader.get_event()
        if self.anchored:
            self._record(event)
        return event

    def _record(self, event: yaml.Event) -> None:
        """Logs the parser's event, and notes where each anchored node starts and ends."""
        self.log.append(event)
        kind = type(event)
        if kind in _ENDS:
            self.depth -= 1
        elif (kind is yaml.ScalarEvent or kind in _STARTS) and event.anchor:
            # Until its node ends, an anchor names nothing: an alias inside it would be the node itself.
            self.anchors.pop(event.anchor, None)
            self.open_anchors.append((event.anchor, len(self.log) - 1, self.depth))
        if kind in _STARTS:
            self.depth += 1
        while self.open_anchors and self.open_anchors[-1][2] == self.depth:
            anchor, start, _ = self.open_anchors.pop()
            self.anchors[anchor] = (start, len(self.log))

    def _fail(self, event: yaml.Event, path: tuple, message: str) -> DescriptorError:
        return DescriptorError([Problem(self.path, dotted(path), message, event.start_mark.line + 1)])


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")
