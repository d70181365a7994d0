"""MeterLink's device library: protocols and transports for electricity meters.

This package never imports Home Assistant. Protocols are sans-IO (pure functions over bytes and
dicts) so they can be tested exhaustively; transports add asyncio on top.
"""
