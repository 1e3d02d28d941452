"""Datasets: the wsolevaluation metadata format, torch datasets and converters."""
