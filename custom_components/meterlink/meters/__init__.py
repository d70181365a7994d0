"""MeterLink's device library: protocols and transports for electricity meters.

This package never imports Home Assistant. Protocols are sans-IO (pure functions over bytes and
dicts) so they can be tested exhaustively; transports add asyncio on top. Each family (`ekm`,
`push` with `push.settings`, `smartmac`) exports its public names from its `__init__`; what
they share sits here: `errors` (the one hierarchy), `http` (request, status → error,
Retry-After, host check), `json` (decode, sanitize), `budget` (request pacing) and
`energy_hours` (hourly energy from cumulative registers, for every history source).
"""
