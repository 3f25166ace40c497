"""The whole mesh: every domain listed in workspace.yaml, and how their ports connect."""

from platform_lib.mesh.index import Mesh
from platform_lib.mesh.loading import Survey, load_mesh, survey
from platform_lib.mesh.workspace import domain_folders

__all__ = ["Mesh", "Survey", "domain_folders", "load_mesh", "survey"]
