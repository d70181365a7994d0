"""Tests of MeterLink: the Home Assistant integration (here) and its library (lib/)."""
