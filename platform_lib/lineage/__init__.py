"""Column lineage across the mesh, and the classification that follows it: where each column of a
model and a port comes from (columns.py), what a port's columns inherit from the ports it reads
(classification.py)."""
