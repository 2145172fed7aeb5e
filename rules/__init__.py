"""Which leads may be called now, and what happens to a lead after an attempt."""
