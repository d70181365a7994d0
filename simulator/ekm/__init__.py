"""The EKM simulators: meters, their RS-485 bus, the EKM Push cloud and the Push3 gateway.

`meter` is the one meter model; `rs485` serves it on a bus, `push_cloud` and `push_device_api`
through the cloud's APIs, and `push3` through a gateway's local API.
"""
