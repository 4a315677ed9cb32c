"""Before each occurrence: reminders to invitees and pre-flight checks of the meeting."""
