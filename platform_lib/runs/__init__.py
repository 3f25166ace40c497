"""How the mesh runs: each domain's job, producers before consumers, in a forked process per domain
(mesh_run.py), and what a run tells of its ports and first causes (report.py)."""
