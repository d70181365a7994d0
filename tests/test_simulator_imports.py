"""Every simulator module imports without Home Assistant, and with the one copy of the library.

`scripts/simulate` and the demo run the simulators in their own processes; if importing one
pulled in Home Assistant (through the integration's `__init__`), each would load hundreds of
modules it never uses. In a test process the integration is loaded first, and the simulators
must then use its library package, not a second copy (or `isinstance` and `except` across the
two would silently fail).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import custom_components.meterlink.meters.errors as library_errors
from simulator.ekm import rs485

ROOT = Path(__file__).resolve().parents[1]


def test_every_simulator_module_imports_without_home_assistant() -> None:
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in (ROOT / "simulator").rglob("*.py")
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'homeassistant'))\n"
        "print('custom_components.meterlink' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "simulator.ekm.push_device_api" in modules
    assert "simulator.smartmac" in modules
    assert result.stdout.split("\n")[:2] == ["[]", "False"]


def test_in_a_test_process_the_simulators_share_the_integrations_library() -> None:
    frames = sys.modules["custom_components.meterlink.meters.ekm.frames"]
    assert rs485.decode_response is frames.decode_response
    assert sys.modules["custom_components.meterlink.meters.errors"] is library_errors
