"""EKM Omnimeter protocol (v3, v4, v5 over RS-485) and EKM field names.

EKM's field names (`kWh_Tot`, `RMS_Volts_Ln_1`, ...) are shared by the RS-485 protocol, the
EKM Push cloud and the Push3 gateway, so every transport produces the same reading model.
"""
