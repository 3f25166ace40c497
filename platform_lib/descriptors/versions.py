"""Semantic versions (SemVer 2.0.0, semver.org) of contracts and ports: the one reading every place
uses that takes a major from a version or compares two.

A pre-release is a version like any other: 2.0.0-rc.1 is major 2, so it is published as
`<port>_v2` beside the live major 1, and a breaking change after it needs major 3."""

from __future__ import annotations

import re
from dataclasses import dataclass

# semver.org's grammar. [0-9], not \d: \d also matches other scripts' digits, which int() reads.
_NUMBER = r"0|[1-9][0-9]*"
_PRE_RELEASE = rf"(?:{_NUMBER}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD = r"[0-9A-Za-z-]+"
_SEMVER = re.compile(
    rf"({_NUMBER})\.({_NUMBER})\.({_NUMBER})"
    rf"(?:-({_PRE_RELEASE}(?:\.{_PRE_RELEASE})*))?"
    rf"(?:\+({_BUILD}(?:\.{_BUILD})*))?"
)
_FORM = "MAJOR.MINOR.PATCH, no leading zeros, optionally -PRERELEASE and +BUILD, e.g. 1.0.0 or 2.0.0-rc.1"


@dataclass(frozen=True)
class SemVer:
    major: int
    minor: int
    patch: int
    pre_release: tuple[str, ...] = ()
    build: tuple[str, ...] = ()

    @property
    def precedence(self) -> tuple:
        """The sort key of SemVer precedence: a pre-release comes before its release, numeric
        identifiers compare as numbers and before alphanumeric ones, build metadata is ignored."""
        if not self.pre_release:
            return (self.major, self.minor, self.patch, (1,))
        identifiers = tuple((0, int(i), "") if i.isdigit() else (1, 0, i) for i in self.pre_release)
        return (self.major, self.minor, self.patch, (0, *identifiers))

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        text += f"-{'.'.join(self.pre_release)}" if self.pre_release else ""
        return text + (f"+{'.'.join(self.build)}" if self.build else "")


def parse_version(value: object) -> SemVer:
    """A version as written; ValueError says what to write instead."""
    match = _SEMVER.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a semantic version: {_hint(value)}")
    major, minor, patch, pre_release, build = match.groups()
    return SemVer(int(major), int(minor), int(patch), _identifiers(pre_release), _identifiers(build))


def _identifiers(dotted: str | None) -> tuple[str, ...]:
    return tuple(dotted.split(".")) if dotted else ()


def _hint(value: object) -> str:
    # YAML reads an unquoted 1 or 1.0 as a number, which cannot say 1.0.0.
    if not isinstance(value, str):
        return "write it as a string such as 1.0.0"
    if value[:1] in ("v", "V"):
        return f"no v before it ({_FORM})"
    return _FORM
