"""Events, their sessions and invitations, and the rules for booking them."""
