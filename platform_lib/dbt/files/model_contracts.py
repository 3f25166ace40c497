"""The domain's output ports' contracts as enforced dbt model contracts: the model behind a port
must make the contract's columns with its physical types, or dbt refuses to build it (a view is
checked before it is created: column names and types, by DuckDB, over its inputs as bound).

The model's own types are the contract's, but for a masked column: a hashed column is VARCHAR in
the port whatever the model makes, a redacted one a null of the contract's type. One model may back
two ports (customer_profiles masks what customer_profiles_full publishes as made): a masked column
takes its type from a port that publishes it unmasked, and a model with a column no port publishes
unmasked is not contracted, since no contract says what the model makes there."""

from __future__ import annotations

from platform_lib.dbt.files.generated import generated
from platform_lib.descriptors.contract import Column
from platform_lib.descriptors.domain import Domain
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.product import OutputPort
from platform_lib.descriptors.types import same_type, spark_type
from platform_lib.descriptors.yaml_file import dump
from platform_lib.engines import SPARK

BODY = """# Each output port's contract, as the dbt model contract of the model behind the port: dbt refuses
# to build a model whose columns or types are not the contract's. `mesh contract sync` writes a
# draft contract's columns from what its model makes.
"""


def _promised_columns(model: str, ports: list[OutputPort]) -> dict[str, Column | None]:
    """Column -> the contract column that says the type the model makes it (None: every port masks
    it), in the order of the first port's contract."""
    columns: dict[str, tuple[OutputPort, Column] | None] = {}
    for port in ports:
        for column in port.contract.columns:
            known = columns.setdefault(column.name, None)
            if column.masking is not None:
                continue
            if known is None:
                columns[column.name] = (port, column)
            elif not same_type(known[1].physical_type, column.physical_type):
                raise DescriptorError([column.problem(
                    f"{known[0].contract.file.name} says {column.name} is {known[1].physical_type}: the ports of dbt model {model} "
                    "publish each column as the model makes it, with one type", "physicalType")])
    return {name: None if found is None else found[1] for name, found in columns.items()}


def _engine_type(domain: Domain, column: Column) -> str:
    """The column's type as the domain's engine names it: dbt compares the model's types in the engine's own words."""
    if domain.engine != SPARK:
        return column.physical_type
    try:
        return spark_type(column.physical_type)
    except ValueError as exc:
        raise DescriptorError([column.problem(f"{exc} (domain {domain.name} runs on Spark)", "physicalType")]) from None


def model_contracts(domain: Domain) -> str | None:
    """models/_contracts.yml, or None for a domain without output ports."""
    backing: dict[str, list[OutputPort]] = {}
    for port in domain.output_ports:
        backing.setdefault(port.contract.model, []).append(port)
    if not backing:
        return None
    models, unenforced = [], []
    for model, ports in backing.items():
        columns = _promised_columns(model, ports)
        masked = [name for name, column in columns.items() if column is None]
        if masked:
            unenforced.append(f"# Not enforced: {model} ({', '.join(masked)} {'is' if len(masked) == 1 else 'are'} masked in every port "
                              "of the model: no contract says the model's own type)\n")
            continue
        models.append({"name": model, "config": {"contract": {"enforced": True}},
                       "columns": [{"name": name, "data_type": _engine_type(domain, column)} for name, column in columns.items()]})
    made_from = [port.contract.file for port in domain.output_ports]
    return generated(domain, made_from, BODY + "".join(unenforced) + dump({"version": 2, "models": models}))
