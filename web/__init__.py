"""Web process: the Litestar app (JSON API now; operator and supervisor panels later)."""
