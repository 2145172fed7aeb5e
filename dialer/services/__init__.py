"""Use cases of the control surface (campaigns, leads, operators, attempts).

Synchronous peewee: async callers run them in a thread via `dialer.db.run(db, fn, ...)`.
Every function validates its input and raises a `dialer.errors` domain error before writing anything.
"""
