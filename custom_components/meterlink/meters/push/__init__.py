"""EKM Push: the cloud's realtime and account APIs, the Push3 gateway's local API, and the
Device Settings (sendCommand) and Trigger APIs. No Home Assistant imports here."""
