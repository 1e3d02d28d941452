"""Converters from downloaded datasets to prepared dataset folders (see :mod:`wsolkit.data.spec`)."""
