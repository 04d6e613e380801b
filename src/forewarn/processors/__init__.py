"""forewarn.processors."""
