"""API plumbing shared by every app: errors, parsing, pagination, fallbacks."""
