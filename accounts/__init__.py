"""Users with email login, JWT sessions, profile and password management."""
