"""Fixtures for the Push library tests: the real mosquitto broker (tests/mosquitto.py)."""

from tests.mosquitto import mosquitto, mqtt_ca

__all__ = ["mosquitto", "mqtt_ca"]
