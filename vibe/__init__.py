"""Vibe: an on-premises agent that trains language models on an organisation's own data."""

__version__ = "0.1.0"
