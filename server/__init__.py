"""Shiquan: a knowledge graph and SPARQL endpoint for fiscal power division plans."""
