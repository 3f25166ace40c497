"""Runs launched inside their domain's code server, watched: Dagster's default launcher cannot tell
that a run's process died with its code server, so such a run would stay STARTED for ever. This one
answers the daemon's run monitoring: a run whose code server is gone, or was restarted since the run
was launched (a new server never heard of it), has failed, and is marked so.

The code server's id at launch is kept as a run tag: `dagster code-server start` serves through a
proxy that does not answer which runs it holds, but does answer who it is."""

from __future__ import annotations

from dagster import DagsterRun, DefaultRunLauncher

# Private: the launcher's interface (its launch context and the health answer run monitoring asks
# for) is not exported by dagster, though a custom run launcher must implement it.
from dagster._core.launcher import LaunchRunContext
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus

SERVER_TAG = "mesh/code_server_id"


class MonitoredRunLauncher(DefaultRunLauncher):
    def launch_run(self, context: LaunchRunContext) -> None:
        super().launch_run(context)
        client = self._get_grpc_client_for_termination(context.dagster_run.run_id)
        if client is not None:
            self._instance.add_run_tags(context.dagster_run.run_id, {SERVER_TAG: client.get_server_id()})

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        client = self._get_grpc_client_for_termination(run.run_id)
        launched_on = run.tags.get(SERVER_TAG)
        if client is None or launched_on is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "the run records no code server")
        try:
            serving = client.get_server_id(timeout=10)
        except Exception as exc:  # noqa: BLE001  (any failure to reach the server means the same)
            return CheckRunHealthResult(WorkerStatus.FAILED, f"its code server does not answer ({type(exc).__name__}): it was stopped or killed")
        if serving != launched_on:
            return CheckRunHealthResult(WorkerStatus.FAILED, "its code server was restarted since the run was launched, and the run with it")
        return CheckRunHealthResult(WorkerStatus.RUNNING)
