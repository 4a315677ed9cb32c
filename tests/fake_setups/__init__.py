"""Setups of the fake provider servers for the adapters' contract tests."""
