"""Projects, tickets, comments, images and their event history."""
