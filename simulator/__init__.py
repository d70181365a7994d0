"""Fakes of the devices and services MeterLink talks to, for tests, demos and benchmarks.

The simulators speak the devices' wire protocols, so the library and the integration are
exercised through real sockets and ptys. They build their answers with the device library
(`custom_components.meterlink.meters`), which never imports Home Assistant, but importing it by
that name would first run the integration's `__init__`, which does. So, unless the integration
is already loaded (a test process, where it must stay the one copy), the library package is
registered here under its own full name without its parent package running: one name, one copy
of every class (an `except MeterError` or `isinstance` in a test sees the simulator's objects
as its own), and no Home Assistant module in a simulator process.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

LIBRARY = "custom_components.meterlink.meters"


def _load_library_alone() -> None:
    """Register the device library without running the integration's `__init__`."""
    if LIBRARY in sys.modules or "custom_components.meterlink" in sys.modules:
        return
    root = Path(__file__).resolve().parent.parent / "custom_components" / "meterlink" / "meters"
    spec = importlib.util.spec_from_file_location(
        LIBRARY, root / "__init__.py", submodule_search_locations=[str(root)]
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[LIBRARY] = module
    spec.loader.exec_module(module)


_load_library_alone()
