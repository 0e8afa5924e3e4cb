"""The built-in target types, one module each.  Nothing here is imported by the core:
the registry names these modules by import path and entry point (check/target_types.py)."""
