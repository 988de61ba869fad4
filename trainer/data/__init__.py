"""Multilingual instruction mixes from YAML recipes (issue #3): `load_recipe` + `build`."""
