"""Entity description tables, one module per data family.

A family's table says once which entities a reading yields and how each value is derived, so
every transport that produces the same reading model (EKM over RS-485, EKM Push cloud, the Push3
gateway) gets the same entities, units and names.
"""
