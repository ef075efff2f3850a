"""sparql wing."""
