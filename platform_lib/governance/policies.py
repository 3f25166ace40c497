"""The mesh's global policies. Every domain is held to all of them; a domain may raise a
severity or add policies of its own (see `evaluate`), never lower or waive one of these."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from platform_lib.dbt.manifest import domain_sources, source_asset_key
from platform_lib.descriptors.contract import PUBLIC_ROLE, SENSITIVE
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.errors import WARNING, DescriptorError, Problem
from platform_lib.descriptors.fields import custom_property
from platform_lib.descriptors.keys import dbt_project, model_key, operational_source_key, port_key_of_contract
from platform_lib.descriptors.types import same_type
from platform_lib.governance.policy import Subject, policy
from platform_lib.lineage.classification import violations

NOT_YET_LIVE_OR_GONE = ("proposed", "draft", "retired")


@policy(
    "product-ownership",
    rationale="""A product nobody owns decays: consumers need a team accountable for it and a channel
    where they can reach that team.""",
)
def product_ownership(s: Subject) -> Iterator[Problem]:
    """Every product has an owner team and a support channel."""
    for product in s.domain.products:
        if product.owner is None:
            yield product.problem("no team member has role: owner; name the team member accountable for the product", "team")
        if not product.support:
            yield product.problem("no support channel; add one (support: - channel, url) where consumers reach the team", "support")


@policy(
    "port-promises",
    rationale="""A port is a promise: without a service level consumers cannot tell late data from
    lost data, and without a quality rule nothing stops a bad version from being published.""",
)
def port_promises(s: Subject) -> Iterator[Problem]:
    """Every output port's contract has at least one SLO and one quality rule."""
    for port in s.domain.output_ports:
        contract = port.contract
        if not contract.slas:
            yield contract.problem("no SLO: declare slaProperties (frequency, latency or retention)", "slaProperties")
        if not contract.quality and not any(c.quality for c in contract.columns):
            yield contract.schema_problem("no quality rule: add one under schema[0].quality or a property's quality", "quality")


@policy(
    "naming",
    rationale="""Ids and names are how the mesh finds things: a product, a contract and an input port
    named by convention can be located from the id alone, by people and by tools.""",
)
def naming(s: Subject) -> Iterator[Problem]:
    """Ids, URNs and names follow the mesh's conventions, and what a descriptor states is what its folder says.

    Its id, name, domain, team, support and servers, if stated, are what the folder and domain.yaml
    say (descriptors.derived)."""
    domain = s.domain.name
    for product in s.domain.products:
        yield from product.restated
        for port in product.input_ports:
            producer = s.producers.producer_of(port)
            if producer is not None and port.name != f"{producer.domain}_{producer.name}":
                yield port.problem(f"input port name must be {producer.domain}_{producer.name} (producer domain _ port)", "name")
        for port in product.output_ports:
            contract = port.contract
            yield from contract.restated
            if s.manifest is not None and any(
                n.get("resource_type") == "model" and model_key(domain, n["name"]) == port.asset_key for n in s.manifest["nodes"].values()
            ):
                yield contract.schema_problem(f"dbt model {port.asset_key[1]} has the asset key of this port ({'/'.join(port.asset_key)}); rename the model", "physicalName")


@policy(
    "pii-masking",
    rationale="""Personal data reaches only those who were granted it: in a port every domain may read,
    a PII column is published hashed (still joinable) or redacted, never as written.""",
)
def pii_masking(s: Subject) -> Iterator[Problem]:
    """A PII column is never published unmasked in a port open to every domain."""
    for port in s.domain.output_ports:
        if not port.contract.is_public:
            continue
        classified = s.classified.get(port.asset_key)
        for column in port.contract.columns:
            inherited = classified.columns.get(column.name) if classified else None
            # A value its producer masked is published as it was read; one it did not mask is
            # judged by classification-lineage, with the column it comes from.
            judged_by_lineage = inherited is not None and (inherited.masked_upstream or inherited.classification in SENSITIVE)
            if column.classification == "pii" and column.masking is None and not judged_by_lineage:
                yield column.problem(
                    f"pii column {column.name} is published unmasked to every domain (role {PUBLIC_ROLE}): add "
                    "customProperties masking: hash or redact, or drop the public role and grant a restricted one", "classification")
            if column.masking == "hash" and not same_type(column.physical_type, "VARCHAR"):
                yield column.problem("a hashed column is published as VARCHAR: set physicalType: VARCHAR", "physicalType")


@policy(
    "classification-lineage",
    rationale="""Classification follows the data, not the column's name: a column copied, transformed
    or aggregated from a classified column of an input port carries at least that classification,
    and a sensitive one (restricted, pii) is published only masked or to the domains its producer
    granted it to. The column lineage comes from the models' compiled SQL, so a rename, a CTE or a
    select * cannot launder it.""",
)
def classification_lineage(s: Subject) -> Iterator[Problem]:
    """A column is published no lower, and to no more domains, than the classification it inherits."""
    for port in s.domain.output_ports:
        if port.asset_key in s.classified:
            yield from violations(port, s.classified[port.asset_key], s.inputs)


@policy(
    "port-binding",
    rationale="""Consumers depend on promises, not on implementation: reading a producer's internal
    tables or an undeclared port couples domains where no contract protects the consumer.""",
)
def port_binding(s: Subject) -> Iterator[Problem]:
    """Consumers bind only to other domains' output ports, through declared input ports."""
    # Every input port has its dbt source (mesh prepare writes them from the descriptors): what is
    # left to judge is a source no input port binds, written by hand beside the generated ones.
    bound = set()
    for product in s.domain.products:
        for port in product.input_ports:
            # Its conventional key tells which generated dbt source reads it, whether or not its
            # producer can be judged here (reported once, on the input port).
            key = port_key_of_contract(port.contract_id, port.major)
            if key is not None:
                bound.add(key)
            if port.contract_id in s.broken:
                continue
            try:
                producer = s.producers.producer_port(port)
            except DescriptorError as exc:
                yield from exc.problems
                continue
            if producer.domain == s.domain.name:
                yield port.problem(f"{port.contract_id} is this domain's own port; read your own models with ref(), not an input port", "contractId")
            bound.add(producer.asset_key)
    if s.manifest is None or any(p.contract_id in s.broken and port_key_of_contract(p.contract_id, p.major) is None for p in s.domain.input_ports):
        return  # which source reads which port is unknowable without a manifest or while a producer is broken
    operational = {operational_source_key(s.domain.name, t) for t in s.domain.operational_sources}
    read = set()
    for source in domain_sources(s.domain, s.manifest):
        key = source_asset_key(source)
        where = s.domain.dbt_project_dir / source["original_file_path"]
        name = f"sources.{source['source_name']}.tables.{source['name']}"
        if key is None:
            yield Problem(where, name, "set config.meta.dagster.asset_key to the port or operational source it reads")
        elif key not in operational and key not in bound:
            yield Problem(where, name, f"reads {'/'.join(key)}, which no input port of domain {s.domain.name} binds: bind another domain's output "
                                       "port through an input port, or read an operational source of this domain")
        read.add(key)
    for key in operational - read:
        yield Problem(s.domain.folder / "domain.yaml", "operationalSources", f"{key[2]} has no dbt source in {dbt_project(s.domain.name)}")


@policy(
    "port-access",
    rationale="""Access is granted, not assumed: each input port names the role it reads with, and a
    port's contract must grant that role to the consuming domain.""",
)
def port_access(s: Subject) -> Iterator[Problem]:
    """Consumers read a port only with a role its contract grants them."""
    for port in s.domain.input_ports:
        producer = s.producers.producer_of(port)
        if producer is None or producer.domain == s.domain.name:
            continue  # port-binding reports these
        roles = ", ".join(producer.contract.roles) or "none"
        if port.role is None:
            yield port.problem(f"input port {port.name} names no role: add it to customProperties inputRoles (roles of {port.contract_id}: {roles})", "name")
        elif port.role not in producer.contract.roles:
            yield port.problem(f"input port {port.name} reads with role {port.role}, which {port.contract_id} does not offer (roles: {roles})", "name")
        elif not producer.contract.grants(port.role, s.domain.name):
            yield port.problem(
                f"domain {s.domain.name} is not granted role {port.role} on {port.contract_id}: "
                f"request role {port.role} from {s.producers.whom_to_ask(producer)}", "name")


@policy(
    "known-grantees",
    rationale="""A grant names a domain of the mesh. A name no domain holds is a typo (the consumer meant
    is refused at run time, far from the cause), or a standing grant that whoever later creates a
    domain of that name inherits, restricted data included. Judged over the whole mesh: its
    workspace is the register of domains, which a domain checked alone cannot see.""",
    whole_mesh=True,
)
def known_grantees(s: Subject) -> Iterator[Problem]:
    """Every domain a contract grants a role to is a domain of the mesh."""
    return unknown_grantees(s.domain, {d.name for d in s.mesh.domains})


def unknown_grantees(domain: Domain, domains: set[str]) -> Iterator[Problem]:
    """Grants of `domain`'s contracts to names not in `domains` (`mesh access render` refuses them too)."""
    for port in domain.output_ports:
        for i, role in enumerate(port.contract.roles):
            where, grantees = custom_property(port.contract.place.doc, "roles", i, name="grantedTo", default=[])
            for k, grantee in enumerate(grantees):
                if grantee in domains:
                    continue
                close = difflib.get_close_matches(grantee, sorted(domains), n=1)
                hint = f"did you mean {close[0]}?" if close else f"the mesh's domains are {', '.join(sorted(domains))}"
                yield port.contract.problem(f"role {role} is granted to {grantee}, which is no domain of the mesh: {hint}", *where, k)


# dbt code as DuckDB will run it: Jinja and quoted identifiers kept (Jinja may build SQL out of its
# strings), SQL string literals emptied and comments dropped, each keeping its newlines.
_LEXEMES = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", re.S)
# DuckDB's readers and scanners of files (and of other databases' files).
_FILE_FUNCTION = re.compile(r"\b(read_\w+|\w+_scan|parquet_\w+|iceberg_\w+|glob|sniff_csv|sqlite_attach|st_read)\s*\(", re.I)
# Statements that reach files, databases or extensions, where a statement starts (SQL text, a
# hook's or run_query's string, a statement block).
_FILE_STATEMENT = re.compile(r"(?:\A|[;(\"']|%\}|\}\})\s*((?:force\s+)?install|load|copy|attach|(?:export|import)\s+database)\s+[\w'\"(]", re.I)
# A quoted file name where a table goes: DuckDB's replacement scan reads the file.
_FILE_AS_TABLE = re.compile(r"\b(from|join)\s+(?:'|\"[^\"]*[./])", re.I)
_FILE_ACCESSES = (
    (_FILE_FUNCTION, lambda name: f"{name}() reads files"),
    (_FILE_STATEMENT, lambda keyword: f"{keyword.upper()} reaches files"),
    (_FILE_AS_TABLE, lambda keyword: f"a quoted file name after {keyword.upper()} reads the file"),
)


def _lexed(code: str) -> str:
    def strip(m: re.Match) -> str:
        text = m.group()
        if text.startswith(("{{", "{%", '"')):
            return text
        newlines = "\n" * text.count("\n")
        return f"'{newlines}'" if text.startswith("'") else newlines

    return _LEXEMES.sub(strip, code)


def _file_accesses(code: str) -> Iterator[tuple[int, str]]:
    """(line within the code, from 0; what) of each call or statement in dbt code that reaches files."""
    lexed = _lexed(code)
    for pattern, what in _FILE_ACCESSES:
        for m in pattern.finditer(lexed):
            yield lexed.count("\n", 0, m.start(1)), what(" ".join(m.group(1).split()))


def _dbt_code(s: Subject) -> Iterator[tuple[Path, str, str]]:
    """(file, field, code) of the domain's dbt models, macros, tests and hooks."""
    for node in [*s.manifest["nodes"].values(), *s.manifest["macros"].values()]:
        if node["package_name"] != s.domain.name:
            continue
        path, field = s.domain.dbt_project_dir / node["original_file_path"], f"{node['resource_type']} {node['name']}"
        code = node["macro_sql"] if node["resource_type"] == "macro" else node["raw_code"]
        yield path, field, code
        for hook in ("pre-hook", "post-hook"):
            for i, h in enumerate((node.get("config") or {}).get(hook) or []):
                if h["sql"] not in code:  # a hook written in the model's file is found there
                    yield path, f"{field} config.{hook}[{i}]", h["sql"]


def _line(path: Path, code: str, line: int) -> int | None:
    """The line in `path` of the code's `line`: a macro or a hook is a part of its file."""
    try:
        text = path.read_text()
    except OSError:
        return None
    start = text.find(code)
    return None if start < 0 else text.count("\n", 0, start) + line + 1


@policy(
    "dbt-file-access",
    rationale="""A domain reads what it is granted and nothing else: dbt code that reads a file itself
    (another domain's port, an operational source, any path) bypasses the input port, its grant and
    the version the run pinned, and a write escapes the published ports. Data enters a dbt project
    through its sources, which the platform binds; each run's DuckDB is fenced to them as well.""",
)
def dbt_file_access(s: Subject) -> Iterator[Problem]:
    """dbt code reads data only through its bound sources, never files."""
    if s.manifest is None:
        return
    for path, field, code in _dbt_code(s):
        for line, what in _file_accesses(code):
            yield Problem(path, field, f"{what} directly: declare a dbt source bound through an input port or an operational "
                                       "source, and read it with source()", _line(path, code, line))


@policy(
    "acyclic-domains",
    rationale="""Domains that feed each other can never publish a consistent version and cannot be
    run in any order: dependencies between domains form a directed acyclic graph.""",
    whole_mesh=True,
)
def acyclic_domains(s: Subject) -> Iterator[Problem]:
    """No dependency cycle between domains."""
    cycle = s.mesh.cycle_through(s.domain.name)
    if cycle:
        # The same finding for every domain on the cycle (it starts at the smallest name), so the
        # mesh reports it once and each of those code locations fails.
        workspace = s.domain.folder.parent.parent / "workspace.yaml"
        yield Problem(workspace, "load_from", f"domains read each other's ports in a cycle: {' -> '.join(cycle + cycle[:1])} (each reads the next's "
                                              "ports); break it by moving the shared logic into one domain")


@policy(
    "deprecation-window",
    rationale="""A deprecated port must say until when it is served, or its consumers cannot plan
    their migration and the producer can never retire it.""",
)
def deprecation_window(s: Subject) -> Iterator[Problem]:
    """A deprecated port has an end-of-support date."""
    for port in s.domain.output_ports:
        if port.contract.status == "deprecated" and port.contract.end_of_support is None:
            yield port.contract.problem("deprecated without an end of support: add customProperties endOfSupport: YYYY-MM-DD", "status")


@policy(
    "deprecated-consumers",
    severity=WARNING,
    rationale="""Before a deprecated port is retired, its owners need to know who still reads it, and
    those consumers need to be told.""",
    whole_mesh=True,
)
def deprecated_consumers(s: Subject) -> Iterator[Problem]:
    """The remaining consumers of a deprecated port are reported."""
    for port in s.domain.output_ports:
        consumers = s.mesh.consumers_of(port)
        if port.contract.status != "deprecated" or not consumers:
            continue
        eos = port.contract.end_of_support
        when = "with no end of support" if eos is None else (f"past its end of support {eos}" if eos < date.today() else f"until {eos}")
        names = ", ".join(f"{p.domain}.{p.name} (input port {i.name})" for p, i in consumers)
        newer = sorted(m for (cid, m) in s.mesh.ports_by_contract if cid == port.contract.id and m > port.contract.major)
        move = f"; they should move to v{newer[-1]}" if newer else ""
        yield port.contract.problem(f"{port.name} v{port.contract.major} is deprecated {when}; still read by {names}{move}", "status")


@policy(
    "lifecycle",
    rationale="""An active product promises to be served; it cannot rest on a port that is not live
    yet or no longer is.""",
)
def lifecycle(s: Subject) -> Iterator[Problem]:
    """An active product does not depend on a draft or retired port."""
    for product in s.domain.products:
        if product.status != "active":
            continue
        for port in product.input_ports:
            producer = s.producers.producer_of(port)
            if producer is not None and producer.contract.status in NOT_YET_LIVE_OR_GONE:
                yield port.problem(f"active product reads {port.contract_id} v{port.major}, whose status is {producer.contract.status}", "contractId")


GLOBAL_POLICIES = (
    product_ownership, port_promises, naming, pii_masking, classification_lineage, port_binding, port_access, known_grantees, dbt_file_access,
    acyclic_domains, deprecation_window, deprecated_consumers, lifecycle,
)
