"""Live event stream over WebSockets (Django Channels)."""
