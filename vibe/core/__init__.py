"""Vibe's floor: configuration, errors, logging, paths and process helpers.

Every other Vibe package may import from here; this package imports no other Vibe module.
"""
