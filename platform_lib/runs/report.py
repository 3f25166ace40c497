"""What `mesh run` says of one Dagster run, read from its events: a line per port of the products it
ran (published, up to date, refused by its checks, held back, not run) and, under each refused port, its failing
checks with what they observed; above them, the failures no port's line tells (a dbt model's error,
the run lock). First causes only: a port whose schema check failed shows what the schema check
observed, not the rules it stopped from running."""

from __future__ import annotations

from dataclasses import dataclass

from dagster import AssetCheckEvaluation, AssetKey, DagsterEvent

from platform_lib.assets.metadata import UP_TO_DATE
from platform_lib.quality.rules import SCHEMA_CHECK


@dataclass(frozen=True)
class PortOutcome:
    product: str
    port: str
    status: str  # published, up to date, refused, held back, not published, not run
    summary: str
    # Each failing check that is a first cause: its name and what it observed.
    failing: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunReport:
    # The run's failures that no port's line tells: "step: reason".
    causes: tuple[str, ...] = ()
    ports: tuple[PortOutcome, ...] = ()

    def lines(self) -> list[str]:
        lines = [f"    {line}" for cause in self.causes for line in cause.splitlines() if line.strip()]
        widths = [max((len(getattr(p, column)) for p in self.ports), default=0) for column in ("product", "port", "status")]
        for p in self.ports:
            lines.append(f"    {p.product:<{widths[0]}}  {p.port:<{widths[1]}}  {p.status:<{widths[2]}}  {p.summary}")
            lines += [f"        {p.port} {check}" for check in p.failing]
        return lines


def _reason(event: DagsterEvent) -> str:
    failure = event.step_failure_data
    # A Failure raised by the platform says it all; any other exception by its own message, not by
    # the wrapper Dagster puts around an op's errors.
    if failure.user_failure_data and failure.user_failure_data.description:
        return failure.user_failure_data.description.strip()
    error = failure.error
    while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
        error = error.cause
    return error.message.strip()


def _failures(result) -> list[tuple[str, str]]:
    """(step, reason) of each failed step; the run's own failure if it failed before any step did."""
    failures = [(event.step_key, _reason(event)) for event in result.get_step_failure_events()]
    if failures or result.success:
        return failures
    event = result.get_run_failure_event()
    error = event.event_specific_data and event.event_specific_data.error
    return [("run", error.message.strip() if error else event.message)]


def _told(reason: str, key: AssetKey) -> str | None:
    """What a failure says of the port, on its own line `<key>: ...` (the ports step's account of
    every version it did not publish)."""
    prefix = f"{key.to_user_string()}: "
    return next((line.removeprefix(prefix) for line in reason.splitlines() if line.startswith(prefix)), None)


def _observed(check: AssetCheckEvaluation) -> str:
    metadata = {name: value.value for name, value in check.metadata.items()}
    if check.check_name == SCHEMA_CHECK:
        # The audit's own account: each column missing, extra, mistyped or null.
        return f"{check.check_name}: {metadata.get('observed')}"
    said = [metadata["error"]] if "error" in metadata else []
    if "observed" in metadata:
        unexpected = metadata.get("unexpected_count")
        # The audit's sample repeats a value as often as the rows have it.
        sample = f", e.g. {', '.join(dict.fromkeys(metadata['failing_sample']))}" if metadata.get("failing_sample") else ""
        said.append(f"observed {metadata['observed']}" + (f" ({unexpected} unexpected rows{sample})" if unexpected else ""))
    if check.description:
        said.append(f"expected: {check.description}")
    return f"{check.check_name}: {'; '.join(said)}"


def _refused(product: str, port: str, checks: list[AssetCheckEvaluation]) -> PortOutcome:
    failed = [c for c in checks if not c.passed]
    schema = [c for c in failed if c.check_name == SCHEMA_CHECK]
    # The audit runs no rule once the schema check fails; it reports each of them failed, not run.
    summary = f"schema check failed, {len(checks) - 1} checks not run" if schema else f"{len(failed)} of {len(checks)} checks failed"
    return PortOutcome(product, port, "refused", summary, tuple(map(_observed, schema or failed)))


def _port_outcome(key: AssetKey, product: str, checks: list[AssetCheckEvaluation], published: dict | None, kept: str | None,
                  failures: list[tuple[str, str]]) -> PortOutcome:
    port = key.path[-1]
    if published is not None:
        return PortOutcome(product, port, "published", f"{published['dagster/row_count'].value} rows, {len(checks)} checks passed")
    if kept is not None:
        return PortOutcome(product, port, "up to date", kept + (f", {len(checks)} checks passed" if checks else ""))
    if any(not c.passed for c in checks):
        return _refused(product, port, checks)
    if checks:
        # Every check passed: a sibling port of its product was refused.
        held = checks[0].metadata.get("mesh/not_published")
        return PortOutcome(product, port, "held back", f"{held.value if held else 'not published'}; {len(checks)} checks passed")
    told = next((said for _, reason in failures if (said := _told(reason, key))), None)
    if told:
        return PortOutcome(product, port, "not published", told)
    return PortOutcome(product, port, "not run", f"{failures[0][0]} failed" if failures else "the run did not reach it")


def run_report(result, ports: dict[AssetKey, str]) -> RunReport:
    """The report of a run's execution result (execute_job); `ports`: the port assets the run was to publish,
    each with its product."""
    failures = _failures(result)
    checks: dict[AssetKey, list[AssetCheckEvaluation]] = {}
    for check in result.get_asset_check_evaluations():
        checks.setdefault(check.asset_key, []).append(check)
    published = {m.asset_key: m.metadata for m in (e.step_materialization_data.materialization for e in result.get_asset_materialization_events())}
    observed = (e.asset_observation_data.asset_observation for e in result.get_asset_observation_events())
    kept = {o.asset_key: o.metadata[UP_TO_DATE].value for o in observed if UP_TO_DATE in o.metadata}
    return RunReport(
        causes=tuple(f"{step}: {reason}" for step, reason in failures if not any(_told(reason, key) for key in ports)),
        ports=tuple(_port_outcome(key, product, checks.get(key, []), published.get(key), kept.get(key), failures) for key, product in ports.items()),
    )
