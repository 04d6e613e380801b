"""forewarn.commands."""
