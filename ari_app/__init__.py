"""The engine: an ARI Stasis application that places, bridges and classifies every call."""
