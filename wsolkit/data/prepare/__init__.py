"""Converters from downloaded datasets to prepared folders (see :mod:`wsolkit.data.spec`)."""
