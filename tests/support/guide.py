"""docs/adding-a-domain.md, read as a newcomer reads it: by section, and its code blocks as written."""

from __future__ import annotations

import re

from tests.support.processes import REPO

GUIDE = (REPO / "docs" / "adding-a-domain.md").read_text()


def section(title: str) -> str:
    start = GUIDE.index(f"\n## {title}\n")
    end = GUIDE.find("\n## ", start + 1)
    return GUIDE[start:end if end >= 0 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)
