"""Finance's own policies, on top of the mesh's global ones."""

from platform_lib.governance import finding, policy


@policy(
    "finance-decimal-money",
    rationale="""Reported amounts must add up to the cent: binary floating point cannot represent most
    decimal amounts, so every number finance publishes is a DECIMAL.""",
)
def decimal_money(s):
    """Every number a finance port publishes is DECIMAL, never floating point."""
    for port in s.domain.output_ports:
        for column in port.contract.columns:
            if column.logical_type == "number" and not column.physical_type.upper().startswith("DECIMAL"):
                yield finding(column, f"{column.name} is {column.physical_type}: publish amounts as DECIMAL(p,s)", "physicalType")


POLICIES = [decimal_money]
