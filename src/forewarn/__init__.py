"""forewarn: tell customers about incidents before they open a ticket."""

__version__ = "0.1.0"
