"""forewarn.schemas."""
