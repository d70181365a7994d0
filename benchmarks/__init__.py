"""Benchmarks that print figures: `python -m benchmarks rs485` and `python -m benchmarks push`.

Kept apart from `simulator/` because the Push benchmark runs a real Home Assistant in-process,
and the simulators must stay free of Home Assistant.
"""
