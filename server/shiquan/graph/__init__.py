"""graph wing."""
