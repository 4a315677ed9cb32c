"""Building blocks with no domain knowledge: errors, time handling, secrets."""
