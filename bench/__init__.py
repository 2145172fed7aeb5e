"""Benchmarks: real Asterisk, real PostgreSQL; each prints one JSON object as its last line."""
