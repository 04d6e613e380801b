"""The bundled demo: a payments outage in eu-west, told to the few dozen customers it affects."""
