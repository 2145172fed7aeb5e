"""JSON API controllers: thin — parse, call one service in a thread, return its answer."""
