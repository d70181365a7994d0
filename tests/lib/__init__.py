"""Tests of the HA-free device library, against the simulators over real sockets and ptys."""
