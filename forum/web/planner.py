"""Organiser pages (being written)."""
