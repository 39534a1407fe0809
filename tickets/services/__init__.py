"""Every write on projects, tickets and comments; each one records its event in the same transaction."""
