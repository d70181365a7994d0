"""EKM Push: the cloud APIs, the Push3 gateway's local API, sendCommand and triggers (HA-free)."""
