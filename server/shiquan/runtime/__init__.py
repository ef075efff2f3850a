"""runtime wing."""
