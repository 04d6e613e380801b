"""forewarn.streams."""
