"""iCalendar output: VTIMEZONEs, invites, calendars and feeds."""
