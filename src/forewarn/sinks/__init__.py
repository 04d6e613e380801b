"""forewarn.sinks."""
