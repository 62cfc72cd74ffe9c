"""Soundstage: a self-hosted AI music and video studio that works offline by default."""

__version__ = "0.1.0"
