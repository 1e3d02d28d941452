"""Rendering of result objects as rich tables, JSON, CSV, markdown and figures."""
