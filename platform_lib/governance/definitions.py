"""The governance code location: the scorecard as an asset with one check per domain (passing when
the domain has no violation), a job for it and its daily schedule."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    DagsterInstance,
    DataVersion,
    DefaultScheduleStatus,
    Definitions,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    TableColumn,
    TableRecord,
    TableSchema,
    asset,
    define_asset_job,
    in_process_executor,
)

from platform_lib.governance.evaluate import errors
from platform_lib.governance.scorecard import score, version_of
from platform_lib.mesh import Survey, domain_folders
from platform_lib.ports.identities import PLATFORM
from platform_lib.ports.published import PublishedPorts
from platform_lib.ports.storage import PortStorage
from platform_lib.settings import WORKSPACE_FILE

SCORECARD = AssetKey(["governance", "scorecard"])

COLUMNS = TableSchema(columns=[
    TableColumn("domain", "string"),
    TableColumn("products", "int"),
    TableColumn("policies", "int", description="policies the domain is held to (global and its own)"),
    TableColumn("passed", "int", description="policies with no violation"),
    TableColumn("violations", "int"),
    TableColumn("warnings", "int"),
    TableColumn("compliance", "string", description="passed / policies"),
    TableColumn("failing", "string", description="ids of the policies with violations"),
])


def scored(workspace_file=WORKSPACE_FILE, around: Survey | None = None):
    """The scorecard of the mesh as it stands: every domain's published contracts, read as the platform."""
    return score(workspace_file, PublishedPorts(PortStorage.from_settings(PLATFORM)), around)


def recorded_as_is(instance: DagsterInstance, around: Survey) -> str | None:
    """The run that recorded the scorecard as it would be scored now, if the last one did: then a
    run would record it again, the same."""
    latest = instance.get_latest_materialization_event(SCORECARD)
    if latest is None or latest.asset_materialization.tags.get("dagster/data_version") != version_of(*scored(around=around)):
        return None
    return latest.run_id


def scorecard_asset(workspace_file, domains: list[str]):
    @asset(
        key=SCORECARD,
        group_name="governance",
        owners=["team:platform"],
        kinds={"governance"},
        description="Every global and domain policy run over the whole mesh: per-domain compliance.",
        check_specs=[
            AssetCheckSpec(f"{d}_compliant", asset=SCORECARD, description=f"Domain {d} violates no policy.") for d in domains
        ],
    )
    def scorecard() -> MaterializeResult:
        rows, findings = scored(workspace_file)
        return MaterializeResult(
            data_version=DataVersion(version_of(rows, findings)),
            metadata={
                "compliance": MetadataValue.table([TableRecord(r) for r in rows], schema=COLUMNS),
                "violations": sum(r["violations"] for r in rows),
                "warnings": sum(r["warnings"] for r in rows),
            },
            check_results=[
                AssetCheckResult(
                    check_name=f"{d}_compliant",
                    passed=not errors(findings.get(d, [])),
                    severity=AssetCheckSeverity.ERROR,
                    metadata={"findings": MetadataValue.md("\n".join(f"- {p}" for p in findings.get(d, [])) or "none")},
                )
                for d in domains
            ],
        )

    return scorecard


governance_job = define_asset_job("governance_job", selection=[SCORECARD], description="Run every policy over the whole mesh.")

defs = Definitions(
    assets=[scorecard_asset(WORKSPACE_FILE, list(domain_folders(WORKSPACE_FILE)))],
    jobs=[governance_job],
    schedules=[
        ScheduleDefinition(
            name="governance_schedule", job=governance_job, cron_schedule="0 6 * * *",
            execution_timezone="UTC", default_status=DefaultScheduleStatus.RUNNING,
        )
    ],
    executor=in_process_executor,
)
