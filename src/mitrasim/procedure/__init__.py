"""The TEER procedure, the planner and the reports (placeholder docstring, see below)."""
