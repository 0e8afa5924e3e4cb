"""The rule-language grammar, shipped as package data."""
