"""A domain's Python sees the platform through its public API only: `platform_lib.domain_definitions`
and the names `platform_lib.governance` exports for domain policies. import-linter holds the
platform's own layers (pyproject.toml), but domains/ is not a package, and what must be public here
is a name, which import-linter does not see."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import platform_lib
import platform_lib.governance
from tests.support.processes import REPO

pytestmark = pytest.mark.unit

PUBLIC = {"platform_lib": set(platform_lib.__all__), "platform_lib.governance": set(platform_lib.governance.__all__)}


def _is_platform(module: str | None) -> bool:
    return module is not None and (module == "platform_lib" or module.startswith("platform_lib."))


def outside_public_api(path: Path) -> list[str]:
    """`line: import` for each import of the platform beyond its public names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if _is_platform(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_platform(node.module):
            found += [f"{node.lineno}: from {node.module} import {a.name}" for a in node.names if a.name not in PUBLIC.get(node.module, ())]
    return found


@pytest.mark.parametrize("path", sorted((REPO / "domains").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_domain_code_imports_only_the_platforms_public_api(path):
    outside = outside_public_api(path)
    assert not outside, f"{path.relative_to(REPO)} reaches inside the platform; import only {PUBLIC}: {outside}"


def test_an_import_of_the_platforms_internals_is_found(tmp_path):
    policies = tmp_path / "policies.py"
    policies.write_text(
        "import platform_lib.governance\n"
        "from platform_lib.descriptors.yaml_file import load_yaml\n"
        "from platform_lib.governance import finding, policy\n"
        "from platform_lib.governance.policies import GLOBAL_POLICIES\n"
    )
    assert outside_public_api(policies) == [
        "1: import platform_lib.governance",
        "2: from platform_lib.descriptors.yaml_file import load_yaml",
        "4: from platform_lib.governance.policies import GLOBAL_POLICIES",
    ]
