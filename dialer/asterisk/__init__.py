"""Asterisk for development, tests and the demo: the sandbox root, config rendering, instances."""
