"""SLA durations (frequency, latency, retention...): one reading of an slaProperties entry's value and
unit, shared by the contract loader, the runs that honour the SLA and the rules of contract evolution."""

from __future__ import annotations

import math
from datetime import timedelta

# ODCS v3 lists "d, day, days for days; y, yr, years for years, etc. Units use the ISO standard": ISO's
# units of time, in the spellings people write. Months and years have no fixed length; a calendar
# approximation (30 and 365 days) is close enough for freshness windows and retention. `m` is a
# minute, as the platform has always read it (write mo or month for months).
_LENGTHS = (
    (timedelta(seconds=1), ("s", "sec", "secs", "second", "seconds")),
    (timedelta(minutes=1), ("min", "m", "mins", "minute", "minutes")),
    (timedelta(hours=1), ("h", "hr", "hrs", "hour", "hours")),
    (timedelta(days=1), ("d", "day", "days")),
    (timedelta(weeks=1), ("w", "wk", "wks", "week", "weeks")),
    (timedelta(days=30), ("mo", "month", "months")),
    (timedelta(days=365), ("y", "yr", "yrs", "year", "years")),
)
UNITS = {name: length for length, names in _LENGTHS for name in names}
# One symbol and one word per unit, for messages.
_SAID = f"{', '.join(names[0] for _, names in _LENGTHS)} (or {', '.join(names[-1] for _, names in _LENGTHS)})"
# The ODCS SLA properties that are durations (its names are case-insensitive).
DURATION_PROPERTIES = ("frequency", "latency", "retention", "timetodetect", "timetonotify", "timetorepair")
# ODCS makes the unit optional; a bare number has always been read as days.
DEFAULT_UNIT = "d"


class DurationError(ValueError):
    """`field` is the slaProperties key at fault: value or unit."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def is_duration(sla: dict) -> bool:
    return str(sla.get("property", "")).lower() in DURATION_PROPERTIES


def sla_duration(sla: dict) -> timedelta:
    """An slaProperties entry such as {property: latency, value: 4, unit: h} as a duration."""
    name, value, unit = sla.get("property"), sla.get("value"), sla.get("unit", DEFAULT_UNIT)
    length = UNITS.get(unit.lower()) if isinstance(unit, str) else None
    if length is None:
        raise DurationError("unit", f"{name} unit {unit!r} is not a time unit: use one of {_SAID}")
    # Compared, not converted: NaN and infinity fall outside, and an int too large for a float does not raise.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise DurationError("value", f"{name} must be a number of at least 0, such as 4: got {value!r}")
    try:
        return value * length
    except OverflowError:
        raise DurationError("value", f"{name} of {value} {unit} is longer than any duration the platform can hold") from None
