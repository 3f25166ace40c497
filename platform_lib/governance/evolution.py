"""Contract evolution: which changes between two versions of an ODCS v3 contract break its
consumers, and whether the version number says so.

Both versions are typed contracts, read by the rules every contract is held to (descriptors.contract),
so a promise is compared as the platform reads and keeps it: a classification in any case, an SLA as
a duration, a rule by its operator, a column's masking and a role's grants as loaded. What no rule
here reads is compared as written, as a compatible change a reviewer should still see."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from platform_lib.descriptors.contract import Column, Contract, QualityRule, Sla, load_contract
from platform_lib.descriptors.derived import home_of
from platform_lib.descriptors.fields import field
from platform_lib.descriptors.types import same_type
from platform_lib.descriptors.versions import parse_version
from platform_lib.descriptors.yaml_file import Located


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


def diff_contracts(old: Contract, new: Contract) -> list[Change]:
    """Every difference between two versions of a contract, each classed as breaking or compatible."""
    # A port contract has exactly one schema object (load_contract enforces it).
    old_table, new_table = old.data["schema"][0], new.data["schema"][0]
    return [
        *_columns(old.columns, new.columns),
        *_quality("schema[0]", None, old.quality, new.quality),
        *_others("schema[0]", None, "schema", old_table, new_table, skip=("properties", "quality")),
        *_slas(old.slas, new.slas),
        *_roles(old, new),
        *_others("", None, "", old.data, new.data, skip=("version", "schema", "slaProperties", "roles")),
    ]


def _columns(old: tuple[Column, ...], new: tuple[Column, ...]) -> list[Change]:
    old_names, new_names = [c.name for c in old], [c.name for c in new]
    changes, renamed = [], set()
    for i, column in enumerate(old):
        name, path = column.name, f"schema[0].properties[{column.name}]"
        if name in new_names:
            changes += _column(path, column, new[new_names.index(name)])
        # A model edit that renames a column keeps its place and type: one rename, not a drop and an add.
        elif i < len(new) and new[i].name not in old_names and same_type(new[i].physical_type, column.physical_type):
            renamed.add(new[i].name)
            changes.append(Change(True, path, name, f"column renamed {name} -> {new[i].name}"))
            changes += _column(path, column, new[i])
        else:
            changes.append(Change(True, path, name, f"column {name} removed"))
    changes += [
        Change(False, f"schema[0].properties[{n}]", n, f"column {n} added")
        for n in new_names if n not in old_names and n not in renamed
    ]
    return changes


def _column(path: str, old: Column, new: Column) -> list[Change]:
    name = old.name
    typed = (("physicalType", "type", old.physical_type, new.physical_type), ("logicalType", "logical type", old.logical_type, new.logical_type),
             ("classification", "classification", old.classification, new.classification))
    # A type spelt otherwise (bigint, BIGINT) is the same type: consumers read no change.
    changes = [Change(True, f"{path}.{key}", name, f"{name} {label} {a} -> {b}") for key, label, a, b in typed
               if (not same_type(a, b) if key == "physicalType" else a != b)]
    flags = (("required", "required", old.required, new.required), ("unique", "unique", old.unique, new.unique),
             ("primaryKey", "part of the primary key", old.primary_key, new.primary_key))
    changes += [Change(True, f"{path}.{key}", name, f"{name} {'now' if b else 'no longer'} {words}") for key, words, a, b in flags if a != b]
    if old.masking != new.masking:
        a, b = old.masking, new.masking
        said = f"removed (was {a})" if b is None else f"added ({b})" if a is None else f"{a} -> {b}"
        changes.append(Change(True, f"{path}.customProperties[masking]", name, f"{name} masking {said}"))
    if _custom(_written(old), "masking") != _custom(_written(new), "masking"):
        changes.append(Change(False, f"{path}.customProperties", name, f"{name} customProperties changed"))
    changes += _bounds(f"{path}.logicalTypeOptions", name, name, old.type_options, new.type_options)
    changes += _others(f"{path}.logicalTypeOptions", name, name, old.type_options, new.type_options, skip=BOUNDS)
    changes += _quality(path, name, old.quality, new.quality)
    skip = ("name", *(key for key, *_ in typed), *(key for key, *_ in flags), "customProperties", "logicalTypeOptions", "quality")
    return changes + _others(path, name, name, _written(old), _written(new), skip=skip)


def _quality(path: str, column: str | None, old: tuple[QualityRule, ...], new: tuple[QualityRule, ...]) -> list[Change]:
    changes, pairs = _match(f"{path}.quality", column, "quality rule {}", _by_name(old), _by_name(new))
    for n, a, b in pairs:
        rule = f"{path}.quality[{n}]"
        old_args, new_args = dict(a.arguments), dict(b.arguments)
        old_values, new_values = old_args.pop("validValues", None), new_args.pop("validValues", None)
        if old_values != new_values:
            lost = [v for v in old_values or [] if v not in (new_values or [])]
            said = ("removed" if new_values is None else "added" if old_values is None
                    else f"narrowed, no longer {', '.join(map(str, lost))}" if lost else f"widened {old_values} -> {new_values}")
            changes.append(Change(bool(lost), f"{rule}.arguments.validValues", column, f"{n} valid values {said}"))
        if old_args != new_args:
            changes.append(Change(False, f"{rule}.arguments", column, f"quality rule {n} arguments changed"))
        changes += _bounds(rule, column, f"quality rule {n}", _operator(a), _operator(b))
        changes += _others(rule, column, f"quality rule {n}", _written(a), _written(b), skip=("name", "arguments", *BOUNDS))
    return changes


def _by_name(rules: tuple[QualityRule, ...]) -> dict[str, QualityRule]:
    return {rule.name if rule.name is not None else f"#{i}": rule for i, rule in enumerate(rules)}


def _operator(rule: QualityRule) -> dict:
    """The one operator the rule is judged by, as a bound (mustBe: 0)."""
    return dict([rule.operator]) if rule.operator else {}


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


def _slas(old: tuple[Sla, ...], new: tuple[Sla, ...]) -> list[Change]:
    changes, pairs = _match("slaProperties", None, "{} SLO", {s.property: s for s in old}, {s.property: s for s in new})
    for p, a, b in pairs:
        if p in ("frequency", "latency", "retention") and _said(a) != _said(b):
            # Longer is weaker for how often and how late data arrives; shorter is weaker for how long it is kept.
            longer, shorter = b.duration > a.duration, b.duration < a.duration
            weaker, stronger = (shorter, longer) if p == "retention" else (longer, shorter)
            word = "weakened" if weaker else "strengthened" if stronger else "restated"
            changes.append(Change(weaker, f"slaProperties[{p}]", None, f"{p} SLO {word} {_said(a)} -> {_said(b)}"))
            changes += _others(f"slaProperties[{p}]", None, f"{p} SLO", _written(a), _written(b), skip=("value", "unit"))
        else:
            changes += _others(f"slaProperties[{p}]", None, f"{p} SLO", _written(a), _written(b))
    return changes


def _said(sla: Sla) -> str:
    return f"{sla.value}{sla.unit or ''}"


def _roles(old: Contract, new: Contract) -> list[Change]:
    """The roles as written, their grants as loaded."""
    written = ({role["role"]: role for role in c.data.get("roles", [])} for c in (old, new))
    changes, pairs = _match("roles", None, "role {}", *written)
    for r, a, b in pairs:
        if lost := [d for d in old.roles[r] if d not in new.roles[r]]:
            changes.append(Change(True, f"roles[{r}].grantedTo", None, f"role {r} no longer granted to {', '.join(lost)}"))
        if gained := [d for d in new.roles[r] if d not in old.roles[r]]:
            changes.append(Change(False, f"roles[{r}].grantedTo", None, f"role {r} now also granted to {', '.join(gained)}"))
        if _custom(a, "grantedTo") != _custom(b, "grantedTo"):
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


def _match(path: str, column: str | None, what: str, old_by: dict, new_by: dict):
    """Items of two versions matched by their key: a removed one takes a promise away, an added one
    makes a new one. Returns those changes and the (key, old, new) items on both sides."""
    changes = [Change(True, f"{path}[{k}]", column, f"{what.format(k)} removed") for k in old_by if k not in new_by]
    changes += [Change(False, f"{path}[{k}]", column, f"{what.format(k)} added") for k in new_by if k not in old_by]
    return changes, [(k, old_by[k], new_by[k]) for k in old_by if k in new_by]


def _written(item: Located) -> dict:
    """The mapping the item was read from."""
    return field(item.place.doc, *item.place.path, kind=dict)


def _custom(item: dict, typed: str) -> dict:
    """The item's customProperties but the one the contract reads into its own field."""
    return {c["property"]: c.get("value") for c in item.get("customProperties", []) if c["property"] != typed}


def semver_violations(old: str, new: str, changes: list[Change]) -> list[str]:
    """What the new version number gets wrong given the changes (empty when it is right)."""
    before, after = parse_version(old), parse_version(new)
    if after.precedence < before.precedence:
        return [f"version decreased {old} -> {new}: a published version only moves forward"]
    # Consumers bind a major, pre-release or not: within one, nothing may break them.
    if any(c.breaking for c in changes) and after.major == before.major:
        n = before.major
        return [f"breaking changes need a new major version: {old} -> {new} keeps major {n}; publish as {n + 1}.0.0 "
                f"and keep v{n} live (status deprecated, endOfSupport) until its consumers moved"]
    # Build metadata does not make a version newer (SemVer precedence ignores it).
    if changes and after.precedence == before.precedence:
        return [f"contract changed but version still {new}: bump it"]
    return []


def read_contract_version(spec: str, cwd: Path) -> tuple[str, Contract | None]:
    """A spec is a file path, or GITREF:path read with git in `cwd`; None when the path is not at that ref.

    The contract is read as its port would publish it (at another ref, completed from what its folder
    in the working tree says), and refused, naming the file and line, as `mesh check` would refuse it:
    only two contracts can be compared."""
    path = Path(cwd, spec)
    if path.exists() or ":" not in spec:
        return spec, load_contract(path)
    ref, _, file = spec.partition(":")
    # A bad ref is an error; only a path missing at a good ref means "no such version" (e.g. a new contract).
    known = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=cwd, capture_output=True)
    if known.returncode != 0:
        raise ValueError(f"{ref} is not a git commit in {cwd}")
    shown = subprocess.run(["git", "show", f"{ref}:{file}"], cwd=cwd, capture_output=True, text=True)
    return spec, load_contract(Path(f"{ref}:{file}"), shown.stdout, home_of(Path(cwd, file))) if shown.returncode == 0 else None
