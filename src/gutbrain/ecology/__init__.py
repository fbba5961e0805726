"""Diversity and composition: alpha and beta diversity, ordination, rarefaction."""
