"""Fuzzing the descriptor loaders: whatever they are given, they return what they load or raise a
DescriptorError whose problems each name a file, a line (or None) and one line of message. Never
another exception, and never slowly: each example is held to hypothesis' deadline.

Derandomized, so CI sees the same examples on every run; sized to stay well under a minute."""

from __future__ import annotations

import itertools
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platform_lib.descriptors.contract import load_contract
from platform_lib.descriptors.domain import load_domain
from platform_lib.descriptors.errors import DescriptorError
from tests.support.processes import REPO

SALES = REPO / "domains" / "sales"
FILES = {"contract": "products/orders/orders.odcs.yaml", "product": "products/orders/product.odps.yaml", "domain": "domain.yaml"}
FUZZ = settings(max_examples=100, deadline=timedelta(seconds=2), derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Characters that are odd in names and text: spaces and line separators of other scripts, controls,
# format characters (bidi marks, zero width), combining marks, symbols, private use.
ODD_TEXT = st.text(st.characters(categories=("Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "So", "Co")), max_size=8)
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40), st.floats(), ODD_TEXT,
    st.text(max_size=20), st.dates(), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
# YAML's indicators, so that arbitrary text is often almost YAML.
YAML_TEXT = st.text(st.sampled_from(list("ab01 :-[]{}&*!|>'\"%@`#,?\t\n.~=<")), max_size=200)
# Pieces of YAML that random characters seldom spell: tags, complex keys, anchors and aliases, values
# that match a type's pattern but not its range, documents, directives.
FRAGMENTS = st.sampled_from([
    " !!binary AAAA", " !!python/name:os.system ''", " !!set {a}", " !local x", " !!int x", "\n? [a, b]\n: c\n", " *nowhere",
    " &a [*a]", " &b x", " *b", " 2027-02-30", " 2001-12-14 21:59:43.10 +99:99", " " + "9" * 400, " " + "9" * 5000, " .nan", " -.inf",
    " <<", " =", " " + "[" * 70 + "]" * 70, " {a: 1, a: 2}", " 'open", ' "open', "\t", "\n---\n", "\n...\n", "%YAML 1.1\n",
    "\0", "\ufeff", "\u2028", "\r", " |\n", " >-\n  x\n",
])


def judged(load, *args):
    """The loader's result, or its DescriptorError after checking every problem is well formed."""
    try:
        return load(*args)
    except DescriptorError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert isinstance(problem.file, Path) and isinstance(problem.field, str) and problem.message
            assert problem.line is None or (type(problem.line) is int and problem.line >= 1)
            assert "\n" not in str(problem), str(problem)
        return exc


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A fresh folder per example: the loaders cache parsed files by path, size and mtime."""
    root, counter = tmp_path_factory.mktemp("fuzz"), itertools.count()
    return lambda: root / str(next(counter))


def sales_with(scratch: Path, file: str, content: bytes) -> Path:
    """The sales domain (a folder named sales) with only its orders product, one of whose files is `content`."""
    folder = scratch / "sales"
    shutil.copytree(SALES, folder, ignore=lambda d, names: [n for n in names if Path(d).name == "products" and n != "orders"])
    (folder / FILES[file]).write_bytes(content)
    return folder


@FUZZ
@given(st.one_of(st.text(), YAML_TEXT))
def test_any_text_as_a_contract(text):
    judged(load_contract, Path("fuzz.odcs.yaml"), text)


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_as_a_contract_file(scratch, content):
    path = scratch()
    path.write_bytes(content)
    judged(load_contract, path)


def _paths(node, prefix=()):
    yield prefix
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, (*prefix, key))


def _mutated(data, document):
    """`document` after a few random deletions, type swaps, odd keys and changes of nesting."""
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        path = data.draw(st.sampled_from(list(_paths(document))), label="path")
        if not path:
            document = data.draw(ODD_VALUES, label="document")
            continue
        *parent_path, key = path
        parent = document
        for part in parent_path:
            parent = parent[part]
        value = parent[key]
        operation = data.draw(st.sampled_from(["delete", "swap", "wrap in a list", "wrap in a mapping", "unwrap", "odd key"]), label="operation")
        if operation == "delete":
            del parent[key]
        elif operation == "swap":
            parent[key] = data.draw(ODD_VALUES, label="value")
        elif operation == "wrap in a list":
            parent[key] = [value]
        elif operation == "wrap in a mapping":
            parent[key] = {"value": value}
        elif operation == "unwrap" and isinstance(value, (dict, list)) and value:
            parent[key] = next(iter(value.values())) if isinstance(value, dict) else value[0]
        elif operation == "odd key" and isinstance(parent, dict):
            parent[data.draw(ODD_TEXT, label="key")] = parent.pop(key)
    return document


@pytest.mark.parametrize("file", FILES)
@FUZZ
@given(data=st.data())
def test_mutated_descriptors(scratch, file, data):
    document = _mutated(data, yaml.safe_load((SALES / FILES[file]).read_text()))
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, default_flow_style=data.draw(st.booleans(), label="flow"))
    judged(load_domain, sales_with(scratch(), file, text.encode("utf-8", "surrogatepass")))


LINE_EDITS = ["delete", "duplicate", "indent", "dedent", "insert", "new value", "huge number"]


@pytest.mark.parametrize("file", FILES)
@FUZZ
@given(data=st.data())
def test_edited_descriptor_text(scratch, file, data):
    """Edits of the text itself, which no YAML dump writes: broken indentation, stray indicators."""
    lines = (SALES / FILES[file]).read_text().splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        i = data.draw(st.integers(0, len(lines) - 1), label="line")
        edit = data.draw(st.sampled_from(LINE_EDITS), label="edit")
        line = lines[i]
        if edit == "delete":
            lines[i] = ""
        elif edit == "duplicate":
            lines[i] = line * 2
        elif edit == "indent":
            lines[i] = " " * data.draw(st.integers(1, 5), label="spaces") + line
        elif edit == "dedent":
            lines[i] = line.lstrip(" ")
        elif edit == "insert":
            at = data.draw(st.integers(0, len(line)), label="at")
            lines[i] = line[:at] + data.draw(st.one_of(YAML_TEXT, ODD_TEXT), label="text") + line[at:]
        elif edit == "new value":
            key, colon, _ = line.partition(":")
            lines[i] = key + colon + data.draw(FRAGMENTS, label="value") + "\n"
        else:
            lines[i] = line.rstrip("\n") + " " + "9" * data.draw(st.sampled_from([20, 400, 5000]), label="digits") + "\n"
    judged(load_domain, sales_with(scratch(), file, "".join(lines).encode("utf-8", "surrogatepass")))
