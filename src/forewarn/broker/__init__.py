"""forewarn.broker."""
