"""Errors in what a domain team wrote: each names the file, the field, the line and what to do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Problem:
    file: Path
    field: str
    message: str
    line: int | None = None
    # Set when a governance policy found the problem; warnings are reported but never fail a gate.
    policy: str = ""
    severity: str = ERROR

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        tag = f"[{self.policy}{'' if self.severity == ERROR else ' ' + self.severity}] " if self.policy else ""
        return f"{where}: {self.field or '<document>'}: {tag}{self.message}"


class DescriptorError(Exception):
    """One or more problems in descriptors; str() gives one line per problem."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def __reduce__(self):
        # Raised in a domain's forked run and re-raised in `mesh run`: pickle the problems, not the text.
        return (DescriptorError, (self.problems,))


def collect(problems: list[Problem], fn, *args):
    """fn(*args), or None with its problems appended: one broken file never hides the others."""
    try:
        return fn(*args)
    except DescriptorError as exc:
        problems += exc.problems
        return None
