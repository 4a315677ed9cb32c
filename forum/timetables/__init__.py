"""Teaching terms: timetables imported in bulk, courses as weekly series, reports on them."""
