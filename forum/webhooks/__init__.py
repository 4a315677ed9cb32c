"""Webhooks: provider callbacks in (verified, stored once, processed), events out."""
