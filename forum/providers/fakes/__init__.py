"""Fake provider servers that follow the real APIs' contracts, with switchable faults."""
