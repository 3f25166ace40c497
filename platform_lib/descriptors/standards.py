"""Strict validation against the two standards, before any field is read.

ODCS v3 contracts are validated with the JSON schema bundled in `open-data-contract-standard`
(its Pydantic model silently drops misspelled nested fields). ODPS v1.0.0 has no Python package,
so its descriptor is checked against strict models below, written from the standard's JSON schema:
every object forbids unknown fields, so a typo is an error, never a silently ignored key.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any, Literal

import jsonschema
from open_data_contract_standard.model import OpenDataContractStandard
from pydantic import BaseModel, ConfigDict, ValidationError

from platform_lib.descriptors.errors import DescriptorError, Problem
from platform_lib.descriptors.yaml_file import YamlDocument


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
        raise DescriptorError([_pydantic_problem(doc, error) for error in exc.errors()]) from None


def _pydantic_problem(doc: YamlDocument, error: dict) -> Problem:
    # Pydantic reports union members and literal tags in the location; keep only document keys.
    path = tuple(p for p in error["loc"] if isinstance(p, int) or not str(p).startswith(("list[", "literal[")))
    if error["type"] == "extra_forbidden":
        message = "unknown field (not in ODPS v1.0.0): check its spelling"
    elif error["type"] == "missing":
        message = "required field is missing"
    else:
        message = error["msg"]
    return doc.problem(message, *path)


@cache
def _odcs_validator() -> jsonschema.Validator:
    schema = json.loads(OpenDataContractStandard.json_schema())
    return jsonschema.Draft201909Validator(schema)


@cache
def _odcs_fast_validator():
    import jsonschema_rs

    return jsonschema_rs.validator_for(json.loads(OpenDataContractStandard.json_schema()))


def validate_odcs(doc: YamlDocument) -> None:
    """The JSON schema's verdict. jsonschema_rs decides; only a contract it rejects is walked by
    jsonschema, whose errors name each place and cause (tests hold the two to the same verdicts).
    In pure Python every contract cost 15-50 ms (draft 2019-09's unevaluatedProperties), paid by
    `mesh check` for each of a mesh's contracts and by a code location for each input port's."""
    data = _jsonable(doc.data)
    if _odcs_fast_validator().is_valid(data):
        return
    errors = sorted(_odcs_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise DescriptorError([doc.problem(_odcs_message(e), *_odcs_place(e)) for e in _most_specific(errors)])


def _most_specific(errors: list[jsonschema.ValidationError]) -> list[jsonschema.ValidationError]:
    """One line per place and cause. An unknown field explains the other errors at its place (a
    misspelled key is also a missing one), so where there is one, only it is reported."""
    leaves = [jsonschema.exceptions.best_match([error]) for error in errors]
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


def _odcs_message(error: jsonschema.ValidationError) -> str:
    if error.validator in UNKNOWN_FIELD:
        return f"unknown field {', '.join(map(repr, _unknown_names(error)))} (not in ODCS v3): check its spelling"
    hint = _HINTS.get(error.validator)
    return f"{error.message}: {hint}" if hint else error.message


def _jsonable(value: Any) -> Any:
    """YAML dates become datetime objects; the JSON schema expects their ISO strings."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
