"""forewarn.db."""
