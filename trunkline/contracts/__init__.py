"""Stdlib-only data shared by the Django apps and the switch (DESIGN.md, "Layout").

Nothing here may import Django or a Trunkline Django app: `trunkline switch` loads these types from a
snapshot file without ever configuring Django.
"""
