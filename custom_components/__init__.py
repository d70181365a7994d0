"""Custom components package (lets tests import the integration from the repository)."""
