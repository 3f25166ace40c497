"""Where a `mesh run` spends its time, read back from what it recorded.

Sources: the Dagster instance's event log (each domain run's steps, the "bound sources" message that
ends input binding, each port's `mesh/seconds` metadata: export, audit, commit) and the run's own
per-domain lines on stderr (definitions load). Phases are summed over domains (seconds of work,
which overlap when domains run concurrently), beside the wall time they fit in.
"""

from __future__ import annotations

import re
from collections import defaultdict

# `mesh run`'s line per domain: "[2/6] sales  ok  12.3s  (definitions 1.2s)  run <id>".
DEFINITIONS = re.compile(r"^\[\d+/\d+\] (\S+)\s+(?:ok|FAILED)\s+\S+s\s+\(definitions ([\d.]+)s\)", re.MULTILINE)


def _domain_phases(instance, run) -> dict[str, float]:
    from dagster import DagsterEventType

    events = instance.all_logs(run.run_id)
    steps: dict[str, list[float]] = defaultdict(list)
    bound = None
    ports = defaultdict(float)
    for event in events:
        if event.user_message.startswith("bound sources"):
            bound = event.timestamp
        if not event.is_dagster_event:
            continue
        kind = event.dagster_event.event_type
        if kind in (DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            steps[event.step_key.split("_")[-1]].append(event.timestamp)
        # A version recomputed to the same content is observed, not materialized, with its seconds.
        if kind in (DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_OBSERVATION):
            recorded = event.dagster_event.event_specific_data
            seconds = (recorded.materialization if kind == DagsterEventType.ASSET_MATERIALIZATION else recorded.asset_observation).metadata.get("mesh/seconds")
            for phase, value in (seconds.value if seconds else {}).items():
                ports[phase] += value
    # An incremental run with nothing to recompute starts no ports step (and a run that failed early
    # may not even reach the dbt step): a missing step is a phase of 0 s, not an error.
    first = events[0].timestamp
    dbt_start, dbt_end = (steps["models"][0], steps["models"][-1]) if steps["models"] else (first, first)
    port_start, port_end = (steps["ports"][0], steps["ports"][-1]) if steps["ports"] else (first, first)
    export_audit_publish = sum(ports.values())
    return {
        "binding": (bound or dbt_start) - dbt_start,
        "dbt": dbt_end - (bound or dbt_start),
        "export": ports["stage"],
        "audit": ports["audit"],
        "publish": ports["publish"],
        # Steps' own bookkeeping: events, check results, the run's start and end records.
        "bookkeeping": (events[-1].timestamp - events[0].timestamp) - (dbt_end - dbt_start) - export_audit_publish,
        "_port_step": port_end - port_start,
        "_first_event": first,
    }


def split(started: float, wall: float, stderr: str) -> dict:
    """Phases of the `mesh run` that started at epoch `started` and took `wall` seconds."""
    from dagster import DagsterInstance

    definitions = {name: float(seconds) for name, seconds in DEFINITIONS.findall(stderr)}
    with DagsterInstance.get() as instance:
        runs = [r for r in instance.get_run_records() if r.create_timestamp.timestamp() >= started]
        per_domain = {r.dagster_run.tags["mesh/domain"]: _domain_phases(instance, r.dagster_run) for r in runs if r.dagster_run.job_name.endswith("_products")}
        scorecard = sum((r.end_time or 0) - (r.start_time or 0) for r in runs if not r.dagster_run.job_name.endswith("_products"))
    # A domain with nothing to recompute may be told without a Dagster run: with none at all, the
    # first run is the scorecard's; with not even that one, the whole wall is start-up and the
    # up-to-date checks.
    starts = [p["_first_event"] for p in per_domain.values()] or [r.start_time for r in runs if r.start_time]
    first = min(starts, default=started + wall)
    # Every phase, even when no domain ran.
    totals = dict.fromkeys(("binding", "dbt", "export", "audit", "publish", "bookkeeping"), 0.0)
    for phases in per_domain.values():
        for phase, seconds in phases.items():
            if not phase.startswith("_"):
                totals[phase] += seconds
    checks = totals["audit"]
    return {
        "wall": round(wall, 2),
        # Process start, imports, the instance, the fork, the first location's definitions.
        "start_up_until_first_run": round(first - started, 2),
        "definitions_load": round(sum(definitions.values()), 2),
        **{phase: round(seconds, 2) for phase, seconds in totals.items()},
        "governance_scorecard": round(scorecard, 2),
        "checks_share_of_wall": round(checks / wall, 3),
        "per_domain": {
            name: {k: round(v, 2) for k, v in phases.items() if not k.startswith("_")} | {"definitions_load": definitions.get(name)}
            for name, phases in per_domain.items()
        },
    }
