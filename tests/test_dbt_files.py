"""The dbt files a domain never writes by hand: its profile, its input ports as dbt sources and its
output ports' contracts as dbt model contracts are what its descriptors say, rewritten when one of
them changes and only then."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from platform_lib.dbt.files import MODEL_CONTRACTS, PROFILE, SOURCES, dbt_files, write_dbt_files
from platform_lib.descriptors.domain import load_domain
from platform_lib.descriptors.errors import DescriptorError
from platform_lib.descriptors.keys import port_key_of_contract, port_source_identifier, table_name
from platform_lib.descriptors.producers import ProducerIndex
from platform_lib.mesh import load_mesh
from platform_lib.ports.binding import require_profile
from tests.support.mesh_copy import edit, mesh_copy
from tests.support.processes import REPO

pytestmark = pytest.mark.unit

MESH = load_mesh(REPO / "workspace.yaml")


def generated(domain, producers: ProducerIndex | None = None) -> dict[str, dict | None]:
    """Each generated file of the domain as YAML (None: the domain has no such file)."""
    return {name: None if text is None else yaml.safe_load(text) for name, text in dbt_files(domain, producers).items()}


def source_tables(doc) -> dict[tuple[str, str], tuple[str, tuple[str, ...]]]:
    """(source, table) -> (identifier, asset key)."""
    return {
        (source["name"], table["name"]): (table["identifier"], tuple(table["config"]["meta"]["dagster"]["asset_key"]))
        for source in (doc or {"sources": []})["sources"] for table in source["tables"]
    }


@pytest.mark.parametrize("domain", MESH.domains, ids=lambda d: d.name)
def test_every_input_port_is_one_source_bound_to_its_producers_port(domain):
    read = {port_key_of_contract(p.contract_id, p.major) for p in domain.input_ports}
    tables = source_tables(generated(domain)[SOURCES])
    assert sorted(key for _, key in tables.values()) == sorted(read)
    for (source, _), (identifier, key) in tables.items():
        assert source == key[0] and identifier == port_source_identifier(key)


def test_a_port_read_at_two_majors_keeps_its_name_for_the_oldest():
    """Adding a newer major never renames the source the SQL of the older one reads."""
    tables = source_tables(generated(MESH.domain("finance"))[SOURCES])
    assert tables["customers", "geography"] == ("customers__geography_v1", ("customers", "geography_v1"))
    assert tables["customers", "geography_v2"] == ("customers__geography_v2", ("customers", "geography_v2"))


@pytest.mark.parametrize("domain", MESH.domains, ids=lambda d: d.name)
def test_the_profile_is_the_domains_own_and_keeps_the_fence(domain, tmp_path):
    profile = generated(domain)[PROFILE]
    assert list(profile) == [domain.name]
    # A run's warehouse resource names the file; dbt outside a run falls back to MESH_HOME's.
    assert profile[domain.name]["outputs"]["mesh"]["path"] == f"{{{{ env_var('MESH_WAREHOUSE_PATH', env_var('MESH_HOME') ~ '/warehouse/{domain.name}.duckdb') }}}}"
    root = mesh_copy(tmp_path)
    copy = load_domain(root / "domains" / domain.name)
    write_dbt_files(copy.dbt_project_dir)
    require_profile(copy)  # the run's binding accepts the generated profile


@pytest.mark.parametrize("domain", MESH.domains, ids=lambda d: d.name)
def test_each_port_model_is_contracted_with_its_ports_columns_and_types(domain):
    contracted = {m["name"]: m for m in (generated(domain)[MODEL_CONTRACTS] or {"models": []})["models"]}
    for port in domain.output_ports:
        twins = [p for p in domain.output_ports if p.contract.model == port.contract.model]
        unmasked = {c.name for twin in twins for c in twin.contract.columns if c.masking is None}
        if any(c.name not in unmasked for c in port.contract.columns):
            assert port.contract.model not in contracted
            continue
        model = contracted[port.contract.model]
        assert model["config"]["contract"] == {"enforced": True}
        types = {c["name"]: c["data_type"] for c in model["columns"]}
        assert list(types) == [c.name for c in port.contract.columns]
        # A masked column's type in the port is the masking's: the model's is an unmasked twin's
        # (customer_profiles hashes name, customer_profiles_full publishes it as the model makes it).
        assert {c.name: types[c.name] for c in port.contract.columns if c.masking is None} == {
            c.name: c.physical_type for c in port.contract.columns if c.masking is None}


def test_a_model_with_a_column_every_port_masks_is_not_contracted():
    """A hashed column is VARCHAR in the port and a redacted one null, whatever the model makes: when
    no port publishes the column unmasked, no contract says the model's own type."""
    supply = MESH.domain("supply")
    masked = [(p.contract.model, c.name, c.masking) for p in supply.output_ports for c in p.contract.columns if c.masking]
    assert masked == [("suppliers", "name", "hash"), ("suppliers", "address", "redact"), ("suppliers", "phone", "redact")]
    text = dbt_files(supply)[MODEL_CONTRACTS]
    assert "suppliers" not in [m["name"] for m in yaml.safe_load(text)["models"]]
    assert "# Not enforced: suppliers (name, address, phone are masked in every port of the model: no contract says the model's own type)" in text


def test_the_files_name_the_descriptors_they_are_generated_from(tmp_path):
    files = dbt_files(MESH.domain("finance"))
    for name, made_from in ((PROFILE, ["domains/finance/domain.yaml"]),
                            (SOURCES, [f"domains/finance/products/{p}/product.odps.yaml" for p in ("returned_item_report", "revenue_by_nation", "shipping_priority")]),
                            (MODEL_CONTRACTS, [f"domains/finance/products/{p}/{p}.odcs.yaml" for p in ("returned_item_report", "revenue_by_nation", "shipping_priority")])):
        header = files[name][:files[name].index("\n\n")]
        assert header.startswith("# Generated by the platform") and "do not edit" in header, header
        assert [line.strip("# ") for line in header.splitlines() if line.startswith("#   ")] == made_from


def columns_of(doc) -> dict[tuple[str, str], list[dict] | None]:
    """(source, table) -> its columns as written (None: it has none)."""
    return {(source["name"], table["name"]): table.get("columns") for source in doc["sources"] for table in source["tables"]}


def test_the_sources_carry_their_producers_contract_columns():
    """dbt docs, the manifest and the lineage see what each input port promises: each column of the
    producer's contract with its type, description and classification, and its masking if masked."""
    text = dbt_files(MESH.domain("finance"), MESH)[SOURCES]
    columns = columns_of(yaml.safe_load(text))
    promised = yaml.safe_load((REPO / "domains/sales/products/line_items/line_items.odcs.yaml").read_text())["schema"][0]["properties"]
    assert columns["sales", "line_items"] == [
        {"name": p["name"], "data_type": p["physicalType"], "description": p["description"], "config": {"meta": {"classification": "internal"}}}
        for p in promised]
    assert columns["sales", "line_items"][6] == {"name": "discount", "data_type": "DECIMAL(15,2)", "description": "Discount rate, 0.00 to 0.10.",
                                                 "config": {"meta": {"classification": "internal"}}}
    # customer_profiles publishes the name hashed, customer_profiles_full (granted to finance) as it is.
    hashed = "Name, hashed (HMAC-SHA256 under the mesh's secret key), so still joinable but not readable."
    assert columns["customers", "customer_profiles"][1] == {"name": "name", "data_type": "VARCHAR", "description": hashed,
                                                            "config": {"meta": {"classification": "pii", "masking": "hash"}}}
    assert columns["customers", "customer_profiles_full"][1] == {"name": "name", "data_type": "VARCHAR", "description": "Name.",
                                                                 "config": {"meta": {"classification": "pii"}}}
    # The header names the contracts too: the file is made from them.
    assert "#   domains/sales/products/line_items/line_items.odcs.yaml\n" in text[:text.index("\n\n")]


class SalesPublished(ProducerIndex):
    """The port catalog of a mesh where only sales has published: its contracts have no file here."""

    def producer_of(self, port):
        producer = MESH.producer_of(port)
        if producer is None or producer.domain != "sales":
            return None
        return replace(producer, contract=replace(producer.contract, file=Path(f"port catalog {table_name(producer.asset_key)}")))


def test_a_source_whose_producer_is_not_known_has_no_columns():
    text = dbt_files(MESH.domain("finance"), SalesPublished())[SOURCES]
    assert {table: bool(columns) for table, columns in columns_of(yaml.safe_load(text)).items()} == {
        ("customers", "customer_profiles"): False, ("customers", "customer_profiles_full"): False, ("customers", "geography"): False,
        ("customers", "geography_v2"): False, ("sales", "line_items"): True, ("sales", "orders"): True, ("supply", "suppliers"): False}
    # A contract read from the port catalog is named by its table there.
    header = text[:text.index("\n\n")]
    assert [line.strip("# ") for line in header.splitlines() if line.startswith("#   ")][-2:] == [
        "port catalog sales.line_items_v1", "port catalog sales.orders_v1"]
    assert all(columns is None for columns in columns_of(generated(MESH.domain("finance"))[SOURCES]).values())  # no index: none


def test_a_producers_contract_change_rewrites_its_consumers_sources_and_only_those(tmp_path):
    root = mesh_copy(tmp_path)
    finance = root / "dbt_projects" / "finance"
    write_dbt_files(finance, load_mesh(root / "workspace.yaml"))
    assert write_dbt_files(finance, load_mesh(root / "workspace.yaml")) == []
    edit(root / "domains/sales/products/line_items/line_items.odcs.yaml", "description: Discount rate, 0.00 to 0.10.", "description: Discount rate.")
    assert write_dbt_files(finance, load_mesh(root / "workspace.yaml")) == [finance / SOURCES]
    assert "description: Discount rate.\n" in (finance / SOURCES).read_text()


def test_a_descriptor_change_rewrites_the_files_it_makes_and_only_those(tmp_path):
    root = mesh_copy(tmp_path)
    marketing = root / "dbt_projects" / "marketing"
    write_dbt_files(marketing)
    assert write_dbt_files(marketing) == []  # unchanged descriptors, untouched files: dbt's parse stays warm

    product = root / "domains" / "marketing" / "products" / "global_sales_opportunity" / "product.odps.yaml"
    edit(product, "inputPorts:\n", "inputPorts:\n- name: supply_suppliers\n  version: 1.0.0\n  contractId: urn:mesh:contract:supply:suppliers\n")
    edit(product, "    customers_customer_profiles: mesh_reader\n", "    customers_customer_profiles: mesh_reader\n    supply_suppliers: mesh_reader\n")
    assert write_dbt_files(marketing) == [marketing / SOURCES]
    assert source_tables(yaml.safe_load((marketing / SOURCES).read_text()))["supply", "suppliers"] == ("supply__suppliers_v1", ("supply", "suppliers_v1"))

    contract = root / "domains" / "marketing" / "products" / "global_sales_opportunity" / "global_sales_opportunity.odcs.yaml"
    edit(contract, "physicalType: DECIMAL(38,2)", "physicalType: DOUBLE")
    assert write_dbt_files(marketing) == [marketing / MODEL_CONTRACTS]
    assert "data_type: DOUBLE" in (marketing / MODEL_CONTRACTS).read_text()


def test_two_ports_of_one_model_that_disagree_on_a_type_are_refused_naming_the_file(tmp_path):
    root = mesh_copy(tmp_path)
    full = root / "domains" / "customers" / "products" / "customer_profiles" / "customer_profiles_full.odcs.yaml"
    edit(full, "    physicalType: INTEGER\n", "    physicalType: BIGINT\n")
    with pytest.raises(DescriptorError) as refused:
        dbt_files(load_domain(root / "domains" / "customers"))
    (problem,) = refused.value.problems
    assert problem.file == full and problem.field == "schema[0].properties[3].physicalType"
    assert "customer_profiles.odcs.yaml says nation_key is INTEGER" in problem.message


def test_a_dbt_project_without_its_domain_is_refused_naming_it(tmp_path):
    project = tmp_path / "dbt_projects" / "lonely"
    project.mkdir(parents=True)
    with pytest.raises(DescriptorError) as refused:
        write_dbt_files(project)
    assert refused.value.problems[0].file == tmp_path / "domains" / "lonely" / "domain.yaml"


def test_a_spark_domain_gets_dbt_sparks_session_and_its_contracts_in_sparks_types(tmp_path):
    """One line of domain.yaml moves a domain to Spark: the profile is dbt-spark's session (the
    domain's own warehouse folder and metastore, the cluster MESH_SPARK_MASTER names), and the
    model contracts say each contract type as Spark names it."""
    root = mesh_copy(tmp_path)
    edit(root / "domains" / "sales" / "domain.yaml", "name: sales\n", "name: sales\nengine: spark\n")
    sales = load_domain(root / "domains" / "sales")
    files = generated(sales)
    output = files[PROFILE]["sales"]["outputs"]["mesh"]
    assert (output["type"], output["method"], output["schema"]) == ("spark", "session", "sales")
    parameters = output["server_side_parameters"]
    assert parameters["spark.master"] == "{{ env_var('MESH_SPARK_MASTER', 'local[2]') }}"
    assert parameters["spark.sql.warehouse.dir"] == "{{ env_var('MESH_HOME') }}/warehouse/sales.spark"
    (pricing,) = [m for m in files[MODEL_CONTRACTS]["models"] if m["name"] == "pricing_summary"]
    assert {c["name"]: c["data_type"] for c in pricing["columns"]} == {
        "l_returnflag": "string", "l_linestatus": "string", "sum_qty": "decimal(38,2)", "sum_base_price": "decimal(38,2)",
        "sum_disc_price": "decimal(38,4)", "sum_charge": "decimal(38,6)", "avg_qty": "double", "avg_price": "double",
        "avg_disc": "double", "count_order": "bigint"}
    write_dbt_files(sales.dbt_project_dir)
    require_profile(sales)


def test_a_profile_left_from_another_engine_stops_the_run(tmp_path):
    """domain.yaml moved to Spark, the DuckDB profile still in place (no `mesh prepare` since): the
    run's binding refuses it, naming the profile's field and the fix, before dbt runs anywhere."""
    from platform_lib.ports.binding import UnboundSource

    root = mesh_copy(tmp_path)
    write_dbt_files(root / "dbt_projects" / "marketing")
    edit(root / "domains" / "marketing" / "domain.yaml", "name: marketing\n", "name: marketing\nengine: spark\n")
    with pytest.raises(UnboundSource) as refused:
        require_profile(load_domain(root / "domains" / "marketing"))
    profile = root / "dbt_projects" / "marketing" / "profiles.yml"
    assert str(refused.value).startswith(f"{profile}:") and "marketing.outputs.mesh.type: the profile runs dbt on 'duckdb', " \
        "and domain.yaml says engine: spark" in str(refused.value) and "`mesh prepare`" in str(refused.value)


def test_an_unknown_engine_names_the_file_and_the_field(tmp_path):
    root = mesh_copy(tmp_path)
    edit(root / "domains" / "sales" / "domain.yaml", "name: sales\n", "name: sales\nengine: sparc\n")
    with pytest.raises(DescriptorError) as refused:
        load_domain(root / "domains" / "sales")
    assert f"{root / 'domains' / 'sales' / 'domain.yaml'}:2" in str(refused.value)
    assert "engine: must be one of duckdb, spark, not 'sparc'" in str(refused.value)
