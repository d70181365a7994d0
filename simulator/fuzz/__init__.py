"""A mutation fuzzer for every parser of the device library (`scripts/fuzz`).

Seeds are the simulators' own valid output; mutations are what a broken network, firmware or
hostile server can send (bit flips, truncation, splicing, JSON type swaps, huge numbers, deep
nesting, unicode). An escape is any exception a parser raises that is not a `MeterError`: the
library promises typed errors whatever the input. No Home Assistant here.
"""
