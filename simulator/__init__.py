"""Fakes of the devices and services MeterLink talks to, for tests, demos and benchmarks.

Home Assistant is never imported here: the simulators speak the devices' wire protocols, so
the library and the integration are exercised through real sockets and ptys.
"""
