"""Emails to organisers and invitees: iMIP invitations and the senders that deliver them."""
