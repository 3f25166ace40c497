"""`mesh check --junit FILE`: the results as JUnit XML, which CI systems show as test results. A
testsuite per domain (or the one file checked), a testcase per thing judged; a violation fails its
testcase with the problem lines `mesh check` prints, and warnings are the passing testcase's output."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

from platform_lib.governance.evaluate import errors

if TYPE_CHECKING:
    from platform_lib.cli.check import Case

# Characters XML 1.0 cannot carry, even escaped; a problem may quote one from the file it is about.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: object) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _lines(problems) -> str:
    return _xml("\n".join(map(str, problems)))


def _failed(cases: list[Case]) -> str:
    return str(sum(1 for case in cases if errors(list(case.problems))))


def _testcase(suite: ET.Element, case: Case) -> None:
    element = ET.SubElement(suite, "testcase", classname=_xml(case.suite), name=_xml(case.name))
    if case.file is not None:
        element.set("file", _xml(case.file))
    violations = errors(list(case.problems))
    if violations:
        # The message is what a CI page lists; the text has every line.
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        ET.SubElement(element, "failure", type="violation", message=_xml(violations[0]) + more).text = _lines(violations)
    warnings = [p for p in case.problems if p not in violations]
    if warnings:
        ET.SubElement(element, "system-out").text = _lines(warnings)


def junit(found: list[Case]) -> ET.ElementTree:
    suites: dict[str, list[Case]] = {}
    for case in found:
        suites.setdefault(case.suite, []).append(case)
    root = ET.Element("testsuites", name="mesh check", tests=str(len(found)), failures=_failed(found))
    for name, members in suites.items():
        suite = ET.SubElement(root, "testsuite", name=_xml(name), tests=str(len(members)), failures=_failed(members), errors="0")
        for case in members:
            _testcase(suite, case)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(found: list[Case], path: Path) -> None:
    junit(found).write(path, encoding="utf-8", xml_declaration=True)
