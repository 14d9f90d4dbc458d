"""Prefect flows (wiring only) and the segmint command-line interface."""
