"""`python -m forewarn` is the same as the `forewarn` command (workers are spawned this way)."""

from forewarn.cli import main

main()
