"""The governance code location: the scorecard asset, a job for it and its daily schedule."""

from dagster import DefaultScheduleStatus, Definitions, ScheduleDefinition, define_asset_job, in_process_executor

from platform_lib.governance.scorecard import SCORECARD, scorecard_asset
from platform_lib.mesh import domain_folders
from platform_lib.settings import WORKSPACE_FILE, assume_identity, export_environment

export_environment()
assume_identity("platform")  # the scorecard reads every domain's published contracts
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
