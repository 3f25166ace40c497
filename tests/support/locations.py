"""The workspace's code locations loaded in the test process, as Dagster loads them, and what each defines."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from unittest import mock

import yaml
from dagster import AssetKey, Definitions

from platform_lib.runs.mesh_run import load_definitions
from tests.support.processes import REPO


def _fresh_module(name: str) -> Definitions:
    """A python_module location's definitions from a fresh import: an import cached in sys.modules
    would keep what it read of the environment of whichever test imported it first."""
    spec = importlib.util.find_spec(name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.defs


def load_location_graphs(env: Mapping[str, str]) -> dict:
    """Location name -> its asset graph, for every location of workspace.yaml in its order, each
    loaded with `env` as the whole environment (settings read it at load; loading changes nothing of
    it, tests/test_resources.py), restored on return."""
    graphs = {}
    with mock.patch.dict(os.environ, env, clear=True):
        for entry in yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"]:
            if "python_file" in entry:
                name = entry["python_file"]["location_name"]
                defs = load_definitions((REPO / entry["python_file"]["relative_path"]).parent)
            else:
                name = entry["python_module"]["location_name"]
                defs = _fresh_module(entry["python_module"]["module_name"])
            graphs[name] = defs.resolve_asset_graph()
    return graphs


def defined_keys(location: str, graph) -> set[AssetKey]:
    """Keys a location defines: what it materializes, and the external sources it declares itself.
    Cross-location dependencies appear in each graph as non-executable stubs and are not counted."""
    return {key for key in graph.get_all_asset_keys() if graph.get(key).is_materializable or key.path[0] == location}
