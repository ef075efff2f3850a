"""publish wing."""
