"""Reads to taxon abundances: alignment through mappy, per-alignment likelihoods, EM."""
