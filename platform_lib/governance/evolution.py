"""Contract evolution: which changes between two versions of an ODCS v3 contract break its
consumers, and whether the version number says so."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from platform_lib.descriptors.derived import as_published
from platform_lib.descriptors.durations import sla_duration
from platform_lib.descriptors.fields import version_field
from platform_lib.descriptors.versions import parse_version
from platform_lib.descriptors.yaml_file import YamlDocument, load_yaml


@dataclass(frozen=True)
class Change:
    breaking: bool
    field: str
    column: str | None
    message: str


# A promise loosens when a lower bound falls or an upper bound rises. mustBe counts as an upper
# bound because the library rules here count failures (invalidValues, nullValues: mustBe 0).
LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "mustBeGreaterThan", "mustBeGreaterOrEqualTo")
UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "mustBe", "mustBeLessThan", "mustBeLessOrEqualTo")
# No direction: any change may let through values consumers were promised not to see.
EXACT = ("pattern", "mustNotBe", "mustNotBeBetween")
BOUNDS = (*LOWER, *UPPER, *EXACT, "mustBeBetween")
FLAGS = {"required": "required", "unique": "unique", "primaryKey": "part of the primary key"}


def diff_contracts(old: dict, new: dict) -> list[Change]:
    """Every difference between two parsed contracts, each classed as breaking or compatible."""
    # A port contract has exactly one schema object (load_contract enforces it).
    old_schema, new_schema = old["schema"][0], new["schema"][0]
    return [
        *_columns(old_schema.get("properties", []), new_schema.get("properties", [])),
        *_quality("schema[0]", None, old_schema.get("quality", []), new_schema.get("quality", [])),
        *_others("schema[0]", None, "schema", old_schema, new_schema, skip=("properties", "quality")),
        *_slas(old.get("slaProperties", []), new.get("slaProperties", [])),
        *_roles(old.get("roles", []), new.get("roles", [])),
        *_others("", None, "", old, new, skip=("version", "schema", "slaProperties", "roles")),
    ]


def _columns(old: list[dict], new: list[dict]) -> list[Change]:
    old_names, new_names = [c["name"] for c in old], [c["name"] for c in new]
    changes, renamed = [], set()
    for i, col in enumerate(old):
        name, path = col["name"], f"schema[0].properties[{col['name']}]"
        if name in new_names:
            changes += _column(path, col, new[new_names.index(name)])
        # A model edit that renames a column keeps its place and type: one rename, not a drop and an add.
        elif i < len(new) and new[i]["name"] not in old_names and new[i].get("physicalType") == col.get("physicalType"):
            renamed.add(new[i]["name"])
            changes.append(Change(True, path, name, f"column renamed {name} -> {new[i]['name']}"))
            changes += _column(path, col, new[i])
        else:
            changes.append(Change(True, path, name, f"column {name} removed"))
    changes += [
        Change(False, f"schema[0].properties[{n}]", n, f"column {n} added")
        for n in new_names if n not in old_names and n not in renamed
    ]
    return changes


def _column(path: str, old: dict, new: dict) -> list[Change]:
    name = old["name"]
    # Without a classification the platform treats a column as internal.
    changes = [
        Change(True, f"{path}.{key}", name, f"{name} {label} {old.get(key, default)} -> {new.get(key, default)}")
        for key, label, default in (("physicalType", "type", None), ("logicalType", "logical type", None), ("classification", "classification", "internal"))
        if old.get(key, default) != new.get(key, default)
    ]
    for key, words in FLAGS.items():
        if old.get(key, False) != new.get(key, False):
            changes.append(Change(True, f"{path}.{key}", name, f"{name} {'now' if new.get(key) else 'no longer'} {words}"))
    old_custom, new_custom = _custom(old), _custom(new)
    masking = old_custom.pop("masking", None), new_custom.pop("masking", None)
    if masking[0] != masking[1]:
        said = f"removed (was {masking[0]})" if masking[1] is None else f"added ({masking[1]})" if masking[0] is None else f"{masking[0]} -> {masking[1]}"
        changes.append(Change(True, f"{path}.customProperties[masking]", name, f"{name} masking {said}"))
    if old_custom != new_custom:
        changes.append(Change(False, f"{path}.customProperties", name, f"{name} customProperties changed"))
    options = old.get("logicalTypeOptions") or {}, new.get("logicalTypeOptions") or {}
    changes += _bounds(f"{path}.logicalTypeOptions", name, name, *options)
    changes += _others(f"{path}.logicalTypeOptions", name, name, *options, skip=BOUNDS)
    changes += _quality(path, name, old.get("quality", []), new.get("quality", []))
    skip = ("name", "physicalType", "logicalType", *FLAGS, "classification", "customProperties", "logicalTypeOptions", "quality")
    return changes + _others(path, name, name, old, new, skip=skip)


def _quality(path: str, column: str | None, old: list[dict], new: list[dict]) -> list[Change]:
    changes, pairs = _match(f"{path}.quality", column, "quality rule {}", "name", old, new)
    for n, a, b in pairs:
        rule = f"{path}.quality[{n}]"
        old_args, new_args = dict(a.get("arguments", {})), dict(b.get("arguments", {}))
        old_values, new_values = old_args.pop("validValues", None), new_args.pop("validValues", None)
        if old_values != new_values:
            lost = [v for v in old_values or [] if v not in (new_values or [])]
            said = ("removed" if new_values is None else "added" if old_values is None
                    else f"narrowed, no longer {', '.join(map(str, lost))}" if lost else f"widened {old_values} -> {new_values}")
            changes.append(Change(bool(lost), f"{rule}.arguments.validValues", column, f"{n} valid values {said}"))
        if old_args != new_args:
            changes.append(Change(False, f"{rule}.arguments", column, f"quality rule {n} arguments changed"))
        changes += _bounds(rule, column, f"quality rule {n}", a, b)
        changes += _others(rule, column, f"quality rule {n}", a, b, skip=("name", "arguments", *BOUNDS))
    return changes


def _bounds(path: str, column: str | None, subject: str, old: dict, new: dict) -> list[Change]:
    changes = []
    for key in BOUNDS:
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if a is None:
            loosened, said = False, f"{b} added"
        elif b is None:
            loosened, said = True, f"{a} removed"
        else:
            loosened, said = _loosens(key, a, b), f"{a} -> {b}"
        changes.append(Change(loosened, f"{path}.{key}", column, f"{subject} {key} {said}"))
    return changes


def _loosens(key: str, old, new) -> bool:
    if key in LOWER:
        return new < old
    if key in UPPER:
        return new > old
    if key == "mustBeBetween":
        return new[0] < old[0] or new[1] > old[1]
    return True


def _slas(old: list[dict], new: list[dict]) -> list[Change]:
    changes, pairs = _match("slaProperties", None, "{} SLO", "property", old, new)
    for p, a, b in pairs:
        if p in ("frequency", "latency", "retention") and _said(a) != _said(b):
            # Longer is weaker for how often and how late data arrives; shorter is weaker for how long it is kept.
            longer, shorter = sla_duration(b) > sla_duration(a), sla_duration(b) < sla_duration(a)
            weaker, stronger = (shorter, longer) if p == "retention" else (longer, shorter)
            word = "weakened" if weaker else "strengthened" if stronger else "restated"
            changes.append(Change(weaker, f"slaProperties[{p}]", None, f"{p} SLO {word} {_said(a)} -> {_said(b)}"))
            changes += _others(f"slaProperties[{p}]", None, f"{p} SLO", a, b, skip=("value", "unit"))
        else:
            changes += _others(f"slaProperties[{p}]", None, f"{p} SLO", a, b)
    return changes


def _said(sla: dict) -> str:
    return f"{sla.get('value')}{sla.get('unit', '')}"


def _roles(old: list[dict], new: list[dict]) -> list[Change]:
    changes, pairs = _match("roles", None, "role {}", "role", old, new)
    for r, a, b in pairs:
        old_custom, new_custom = _custom(a), _custom(b)
        old_grants, new_grants = old_custom.pop("grantedTo", []), new_custom.pop("grantedTo", [])
        if lost := [d for d in old_grants if d not in new_grants]:
            changes.append(Change(True, f"roles[{r}].grantedTo", None, f"role {r} no longer granted to {', '.join(lost)}"))
        if gained := [d for d in new_grants if d not in old_grants]:
            changes.append(Change(False, f"roles[{r}].grantedTo", None, f"role {r} now also granted to {', '.join(gained)}"))
        if old_custom != new_custom:
            changes.append(Change(False, f"roles[{r}].customProperties", None, f"role {r} customProperties changed"))
        changes += _others(f"roles[{r}]", None, f"role {r}", a, b, skip=("role", "customProperties"))
    return changes


def _others(path: str, column: str | None, subject: str, old: dict, new: dict, skip=()) -> list[Change]:
    """Differences no rule above covers: compatible, reported so that a reviewer sees them."""
    changes = []
    for key in [*old, *(k for k in new if k not in old)]:
        a, b = old.get(key), new.get(key)
        if key in skip or a == b:
            continue
        # Values such as a status read well inline; prose and structures are only said to have changed.
        short = all(isinstance(v, (str, int, float)) and len(str(v)) <= 40 and " " not in str(v) for v in (a, b))
        said = "added" if a is None else "removed" if b is None else f"{a} -> {b}" if short else "changed"
        changes.append(Change(False, f"{path}.{key}" if path else key, column, f"{subject} {key} {said}".lstrip()))
    return changes


def _match(path: str, column: str | None, what: str, key: str, old: list[dict], new: list[dict]):
    """Items of two lists matched by `key`: a removed one takes a promise away, an added one makes a
    new one. Returns those changes and the (key, old, new) items on both sides."""
    old_by, new_by = ({item.get(key, f"#{i}"): item for i, item in enumerate(items)} for items in (old, new))
    changes = [Change(True, f"{path}[{k}]", column, f"{what.format(k)} removed") for k in old_by if k not in new_by]
    changes += [Change(False, f"{path}[{k}]", column, f"{what.format(k)} added") for k in new_by if k not in old_by]
    return changes, [(k, old_by[k], new_by[k]) for k in old_by if k in new_by]


def _custom(item: dict) -> dict:
    return {c["property"]: c.get("value") for c in item.get("customProperties", [])}


def semver_violations(old: dict, new: dict, changes: list[Change]) -> list[str]:
    """What the new version number gets wrong given the changes (empty when it is right)."""
    a, b = old["version"], new["version"]
    before, after = parse_version(a), parse_version(b)
    if after.precedence < before.precedence:
        return [f"version decreased {a} -> {b}: a published version only moves forward"]
    # Consumers bind a major, pre-release or not: within one, nothing may break them.
    if any(c.breaking for c in changes) and after.major == before.major:
        n = before.major
        return [f"breaking changes need a new major version: {a} -> {b} keeps major {n}; publish as {n + 1}.0.0 "
                f"and keep v{n} live (status deprecated, endOfSupport) until its consumers moved"]
    # Build metadata does not make a version newer (SemVer precedence ignores it).
    if changes and after.precedence == before.precedence:
        return [f"contract changed but version still {b}: bump it"]
    return []


def read_contract_version(spec: str, cwd: Path) -> tuple[str, dict | None]:
    """A spec is a file path, or GITREF:path read with git in `cwd`; None when the path is not at that ref."""
    path = Path(cwd, spec)
    if path.exists() or ":" not in spec:
        return spec, _versioned(load_yaml(path), path)
    ref, _, file = spec.partition(":")
    # A bad ref is an error; only a path missing at a good ref means "no such version" (e.g. a new contract).
    known = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=cwd, capture_output=True)
    if known.returncode != 0:
        raise ValueError(f"{ref} is not a git commit in {cwd}")
    shown = subprocess.run(["git", "show", f"{ref}:{file}"], cwd=cwd, capture_output=True, text=True)
    return spec, _versioned(load_yaml(Path(f"{ref}:{file}"), shown.stdout), Path(cwd, file)) if shown.returncode == 0 else None


def _versioned(doc: YamlDocument, where: Path) -> dict:
    """The contract's data as published (with what the folder at `where` says filled in, as the
    working tree has it), refused here (naming the file and line) when its version is no semantic
    version: only two versions can be compared."""
    version_field(as_published(doc, where), "version")
    return doc.data
