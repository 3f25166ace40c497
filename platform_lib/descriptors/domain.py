"""A domain's own YAML (team, schedule, operational sources) and the products in its folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from platform_lib.descriptors.contract import judge_promises
from platform_lib.descriptors.derived import Home
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.fields import field, name_field
from platform_lib.descriptors.keys import DOMAIN_FILE, dbt_project
from platform_lib.descriptors.product import DESCRIPTOR_FILE, Product, load_product
from platform_lib.descriptors.yaml_file import Located, Place, load_yaml
from platform_lib.engines import DUCKDB, ENGINES


@dataclass(frozen=True)
class Domain(Located):
    name: str
    description: str
    team: str
    email: str
    cron: str
    timezone: str
    operational_sources: tuple[str, ...]
    # governance.severities: policy id -> the severity this domain holds itself to.
    severities: dict[str, str]
    products: tuple[Product, ...]
    folder: Path
    # What its dbt models run on (platform_lib.engines).
    engine: str = DUCKDB

    @property
    def dbt_project_dir(self) -> Path:
        return self.folder.parent.parent / dbt_project(self.name)

    @property
    def owners(self) -> list[str]:
        return [self.email, f"team:{self.team}"]

    @property
    def output_ports(self):
        return [port for product in self.products for port in product.output_ports]

    @property
    def input_ports(self):
        return [port for product in self.products for port in product.input_ports]


def load_domain(folder: Path) -> Domain:
    doc = load_yaml(folder / DOMAIN_FILE)
    name = name_field(doc, "name")
    if name != folder.name:
        raise doc.fail(f"must equal the domain's folder name {folder.name!r}", "name")
    sources = field(doc, "operationalSources", kind=list, default=[])
    # Every product and contract of the domain takes these (descriptors.derived): read here, where they are written.
    for i in range(len(field(doc, "support", kind=list, default=[]))):
        for key in ("channel", "url"):
            field(doc, "support", i, key)
    field(doc, "contractDefaults", kind=dict, default={})
    judge_promises(doc, "contractDefaults")
    engine = field(doc, "engine", default=DUCKDB)
    if engine not in ENGINES:
        raise doc.fail(f"must be one of {', '.join(ENGINES)}, not {engine!r}", "engine")
    product_dirs = sorted(p.parent for p in (folder / "products").glob(f"*/{DESCRIPTOR_FILE}"))
    products, problems = [], []
    for product_dir in product_dirs:
        try:
            products.append(load_product(product_dir, Home.of_domain(doc, product_dir.name)))
        except DescriptorError as exc:
            problems += exc.problems
    if problems:
        raise DescriptorError(problems)
    return Domain(
        name=name,
        description=field(doc, "description"),
        team=name_field(doc, "team", "name"),
        email=field(doc, "team", "email"),
        cron=field(doc, "schedule", "cron"),
        timezone=field(doc, "schedule", "timezone", default="UTC"),
        operational_sources=tuple(name_field(doc, "operationalSources", i) for i in range(len(sources))),
        severities=field(doc, "governance", "severities", kind=dict, default={}),
        products=tuple(products),
        folder=folder,
        engine=engine,
        place=Place(doc),
    )
