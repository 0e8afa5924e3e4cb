"""The JSON Schema of YAML rule files, shipped as package data."""
