"""Strict validation against the two standards, before any field is read.

ODCS contracts are validated with the standard's own JSON schema, as Bitol publishes it
(`odcs_schemas/`, copied unchanged from the release's tag, with its licence). Not the schema the
`open-data-contract-standard` package derives from its Pydantic model: that one accepts a contract
without `status`, which the standard requires, and knows none of the per-server-type fields the
standard defines through `allOf`. What the standard leaves open stays open here: the mesh's own
needs on top are its profile (descriptors.contract), reported apart.

ODPS v1.0.0 has no Python package, so its descriptor is checked against strict models below, written
from the standard's JSON schema: every object forbids unknown fields, so a typo is an error, never a
silently ignored key.
"""

from __future__ import annotations

import json
from difflib import get_close_matches
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from platform_lib.descriptors.errors import DescriptorError, Problem
from platform_lib.descriptors.versions import parse_version
from platform_lib.descriptors.yaml_file import YamlDocument

if TYPE_CHECKING:
    import jsonschema

ODCS_SCHEMAS = Path(__file__).parent / "odcs_schemas"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _CustomProperty(_Strict):
    property: str
    value: Any
    description: str | None = None


class _AuthoritativeDefinition(_Strict):
    type: Literal["businessDefinition", "transformationImplementation", "videoTutorial", "tutorial", "implementation"]
    url: str
    description: str | None = None


class _Extensible(_Strict):
    tags: list[str] | None = None
    customProperties: list[_CustomProperty] | None = None
    authoritativeDefinitions: list[_AuthoritativeDefinition] | None = None


class _Description(_Strict):
    purpose: str | None = None
    limitations: str | None = None
    usage: str | None = None
    authoritativeDefinitions: list[_AuthoritativeDefinition] | None = None
    customProperties: list[_CustomProperty] | None = None


class _InputPort(_Strict):
    name: str
    version: str
    contractId: str


class _SBOM(_Strict):
    type: str | None = None
    url: str


class _InputContract(_Strict):
    id: str
    version: str


class _OutputPort(_Strict):
    name: str
    version: str
    description: str | None = None
    type: str | None = None
    contractId: str | None = None
    sbom: list[_SBOM] | None = None
    inputContracts: list[_InputContract] | None = None


class _ManagementPort(_Extensible):
    name: str
    content: str
    type: str | None = None
    url: str | None = None
    channel: str | None = None
    description: str | None = None


class _Support(_Extensible):
    channel: str
    url: str
    description: str | None = None
    tool: str | None = None
    scope: str | None = None
    invitationUrl: str | None = None


class _TeamMember(_Extensible):
    username: str | None = None
    name: str | None = None
    description: str | None = None
    role: str | None = None
    dateIn: str | None = None
    dateOut: str | None = None
    replacedByUsername: str | None = None


class OdpsDataProduct(_Strict):
    """ODPS v1.0.0, the whole document."""

    apiVersion: Literal["v1.0.0"]
    kind: Literal["DataProduct"]
    id: str
    status: str
    name: str | None = None
    version: str | None = None
    domain: str | None = None
    tenant: str | None = None
    authoritativeDefinitions: list[_AuthoritativeDefinition] | None = None
    description: _Description | None = None
    customProperties: list[_CustomProperty] | None = None
    tags: list[str] | None = None
    inputPorts: list[_InputPort] | None = None
    outputPorts: list[_OutputPort] | None = None
    managementPorts: list[_ManagementPort] | None = None
    support: list[_Support] | None = None
    team: list[_TeamMember] | None = None
    productCreatedTs: str | None = None


def validate_odps(doc: YamlDocument) -> None:
    try:
        OdpsDataProduct.model_validate(doc.data)
    except ValidationError as exc:
        problems = [_pydantic_problem(doc, error) for error in exc.errors()]
        # As for ODCS (_most_specific): an unknown field explains a missing one beside it (a misspelled key).
        unknown_in = {p.field.rpartition(".")[0] for p in problems if p.message.startswith("unknown field")}
        kept = [p for p in problems if not (p.message == "required field is missing" and p.field.rpartition(".")[0] in unknown_in)]
        raise DescriptorError(sorted(kept, key=lambda p: p.line or 0)) from None


def _odps_fields_at(path: tuple) -> list[str]:
    """The fields ODPS allows in the object at `path` of a product descriptor."""
    model: Any = OdpsDataProduct
    for part in path:
        if isinstance(part, int):
            continue
        field_info = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field_info is None:
            return []
        model = next((t for t in _types_in(field_info.annotation) if isinstance(t, type) and issubclass(t, BaseModel)), None)
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []


def _types_in(annotation: Any) -> list[Any]:
    """The classes an annotation such as `list[_Port] | None` is made of."""
    args = get_args(annotation)
    return [annotation] if not args else [t for arg in args for t in _types_in(arg)]


def _pydantic_problem(doc: YamlDocument, error: dict) -> Problem:
    # Pydantic reports union members and literal tags in the location; keep only document keys.
    path = tuple(p for p in error["loc"] if isinstance(p, int) or not str(p).startswith(("list[", "literal[")))
    if error["type"] == "extra_forbidden":
        near = get_close_matches(str(path[-1]), _odps_fields_at(path[:-1]), n=1)
        message = f"unknown field (not in ODPS v1.0.0): {f'did you mean {near[0]!r}?' if near else 'check its spelling'}"
    elif error["type"] == "missing":
        message = "required field is missing"
    else:
        message = error["msg"]
    return doc.problem(message, *path)


@cache
def odcs_schemas() -> dict[str, dict]:
    """The vendored ODCS schemas by version (`v3.1.0`), the newest first."""
    found = {path.stem.removeprefix("odcs-json-schema-"): json.loads(path.read_text()) for path in ODCS_SCHEMAS.glob("odcs-json-schema-v*.json")}
    return dict(sorted(found.items(), key=lambda item: parse_version(item[0].removeprefix("v")), reverse=True))


def odcs_schema_for(data: Any) -> str:
    """The schema that judges a contract: the newest whose `apiVersion` list names the contract's, as
    the standard's own CI judges its examples (some declare v3.0.2 and use fields of v3.1.0). A
    contract naming no version the schemas know is judged by the newest, which says so."""
    declared = data.get("apiVersion") if isinstance(data, dict) else None
    schemas = odcs_schemas()
    return next((version for version, schema in schemas.items() if declared in schema["properties"]["apiVersion"]["enum"]), next(iter(schemas)))


@cache
def _odcs_validator(version: str) -> jsonschema.Validator:
    # Imported only for a contract the fast validator rejects: every `mesh` command and code
    # location would otherwise pay its 0.07 s.
    import jsonschema

    return jsonschema.Draft201909Validator(odcs_schemas()[version])


@cache
def _odcs_fast_validator(version: str):
    import jsonschema_rs

    return jsonschema_rs.validator_for(odcs_schemas()[version])


def validate_odcs(doc: YamlDocument) -> str:
    """The standard's verdict; the version of the schema that gave it. jsonschema_rs decides; only
    a contract it rejects is walked by jsonschema, whose errors name each place and cause (tests
    hold the two to the same verdicts). In pure Python every contract cost 15-50 ms (draft 2019-09's
    unevaluatedProperties), paid by `mesh check` for each of a mesh's contracts and by a code
    location for each input port's."""
    data = _jsonable(doc.data)
    version = odcs_schema_for(data)
    if _odcs_fast_validator(version).is_valid(data):
        return version
    errors = sorted(_odcs_validator(version).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise DescriptorError([doc.problem(_odcs_message(e, version), *_odcs_place(e)) for e in _most_specific(errors)])
    return version


def _most_specific(errors: list[jsonschema.ValidationError]) -> list[jsonschema.ValidationError]:
    """One line per place and cause. An unknown field explains the other errors at its place (a
    misspelled key is also a missing one), so where there is one, only it is reported."""
    from jsonschema.exceptions import best_match

    leaves = [best_match([error]) for error in errors]
    unknown_at = {tuple(e.absolute_path) for e in leaves if e.validator in UNKNOWN_FIELD}
    kept, seen = [], set()
    for error in leaves:
        place = tuple(error.absolute_path)
        if place in unknown_at and error.validator not in UNKNOWN_FIELD:
            continue
        if (place, error.message) not in seen:
            seen.add((place, error.message))
            kept.append(error)
    return kept


UNKNOWN_FIELD = ("additionalProperties", "unevaluatedProperties")


def _unknown_names(error: jsonschema.ValidationError) -> list[str]:
    return [k for k in error.instance if repr(k) in error.message] if error.validator in UNKNOWN_FIELD else []


def _odcs_place(error: jsonschema.ValidationError) -> tuple:
    """Where to point: the unknown key itself when there is exactly one."""
    names = _unknown_names(error)
    return (*error.absolute_path, *names) if len(names) == 1 else tuple(error.absolute_path)


_HINTS = {
    "type": "write a value of that type",
    "required": "add it",
    "enum": "use one of those values",
    "const": "use exactly that value",
    "minItems": "add the missing items",
}


def _odcs_message(error: jsonschema.ValidationError, version: str) -> str:
    if error.validator in UNKNOWN_FIELD:
        names = _unknown_names(error)
        near = get_close_matches(names[0], _known_names(error.schema, odcs_schemas()[version]), n=1) if len(names) == 1 else []
        fix = f"did you mean {near[0]!r}?" if near else "check its spelling"
        return f"unknown field {', '.join(map(repr, names))} (not in ODCS {version}): {fix}"
    hint = _HINTS.get(error.validator)
    return f"{error.message}: {hint}" if hint else error.message


def _known_names(schema: Any, root: dict, depth: int = 0) -> set[str]:
    """The fields an object the schema describes may have: its properties, those of what it refers
    to and of the schemas it combines (allOf, if/then...), as the standard writes them."""
    if not isinstance(schema, dict) or depth > 12:
        return set()
    names = set(schema.get("properties", {}))
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/"):
        target = root
        for part in reference[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        names |= _known_names(target, root, depth + 1)
    for combined in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(combined, []):
            names |= _known_names(sub, root, depth + 1)
    for branch in ("if", "then", "else"):
        names |= _known_names(schema.get(branch), root, depth + 1)
    return names


def _jsonable(value: Any) -> Any:
    """YAML dates become datetime objects; the JSON schema expects their ISO strings."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
