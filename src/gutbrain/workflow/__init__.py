"""Sample-level workflows that compose the domain stages into one result.

The domain packages (profile, ecology, axis, clinical) never import each other; this
layer joins them: reads or a table -> profile -> diversity -> scores and findings -> result.
"""
