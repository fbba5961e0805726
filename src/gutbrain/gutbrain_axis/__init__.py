"""Gut-brain knowledge base, functional guild and module scores, taxa evidence."""
