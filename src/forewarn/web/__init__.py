"""forewarn's HTTP side: one aiohttp server per worker, one module per feature."""
