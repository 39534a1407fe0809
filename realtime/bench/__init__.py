"""Measurements behind the realtime settings (run by hand, not by the test suite)."""
