"""Dialer: shared core — settings, database, models, outcomes, CLI."""
