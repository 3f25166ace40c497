"""When a domain's products refresh: its own schedule, and right after the ports it consumes publish."""

from __future__ import annotations

from dagster import (
    AssetsDefinition,
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    ScheduleDefinition,
    define_asset_job,
)

from platform_lib.assets.sources import observed_first
from platform_lib.descriptors.domain import Domain


def automation_condition(domain: Domain) -> AutomationCondition | None:
    """Consumers refresh as soon as an upstream port publishes; source-aligned domains run on their schedule."""
    return AutomationCondition.eager() if domain.input_ports else None


# Every run of a domain carries it, however launched (schedule, automation, the UI, `mesh run`):
# the production instance queues runs one per value, so two never write the domain's DuckDB at once.
DOMAIN_TAG = "mesh/domain"
# Runs that recompute only what changed (ports.data_versions): the schedule's, the automation's and
# `mesh run`'s without --force. A run launched by hand (the UI's materialize) recomputes everything.
INCREMENTAL_TAG = "mesh/incremental"
INCREMENTAL = {INCREMENTAL_TAG: "true"}


def incremental(context) -> bool:
    return context.run.tags.get(INCREMENTAL_TAG) == "true"


def domain_job(domain: Domain, assets: list[AssetsDefinition]):
    return define_asset_job(
        f"{domain.name}_products",
        selection=observed_first(domain) | AssetSelection.assets(*assets),
        description=f"Build and publish every data product of the {domain.name} domain"
        + (", its operational sources observed first." if domain.operational_sources else "."),
        tags={DOMAIN_TAG: domain.name},
    )


def domain_schedule(domain: Domain, job) -> ScheduleDefinition:
    return ScheduleDefinition(
        name=f"{domain.name}_schedule",
        job=job,
        cron_schedule=domain.cron,
        execution_timezone=domain.timezone,
        tags=INCREMENTAL,
        default_status=DefaultScheduleStatus.RUNNING,
    )


def domain_automation_sensor(domain: Domain) -> AutomationConditionSensorDefinition:
    # Dagster's default automation sensor starts STOPPED; the mesh's cross-domain refresh must not.
    return AutomationConditionSensorDefinition(
        f"{domain.name}_automation",
        target=AssetSelection.all(),
        default_status=DefaultSensorStatus.RUNNING,
        run_tags={DOMAIN_TAG: domain.name, **INCREMENTAL},
    )
