"""Availability polls: candidate times for an event, answered from participants' links,
finalised into a booked session (SPEC section 15)."""
