"""The slot engine: which times work for people in many zones, and who pays for the others.

Pure functions over plain data: no Flask, no database. ``find_slots`` is the fast engine,
``reference.find_slots`` the straightforward one it must agree with.
"""
