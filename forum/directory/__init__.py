"""Institutions and people: where they are, their zones, working hours and availability."""
