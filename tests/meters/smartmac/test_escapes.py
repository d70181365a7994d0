"""Minimal reproducers of hostile getdata answers that once escaped as non-MeterErrors."""

from __future__ import annotations

import json

import pytest

from custom_components.meterlink.meters.errors import MeterAddressError
from custom_components.meterlink.meters.smartmac.protocol import interpret_response


def _body(devid: str) -> str:
    data = {"V1": {"value": "220.89", "unit": "V"}}
    return json.dumps({"devid": devid, "time": "1530607456", "pout": "0", "data": data})


@pytest.mark.parametrize("devid", ["²", "1" * 5000, "٣"])
def test_an_odd_devid_is_another_device_not_a_crash(devid: str) -> None:
    # isdigit() accepts "²" and "٣" but int() does not; int() refuses > 4300 digits.
    with pytest.raises(MeterAddressError):
        interpret_response(200, _body(devid), expected_devid="1728053249")
    with pytest.raises(MeterAddressError):
        interpret_response(200, _body("1728053249"), expected_devid=devid)


def test_leading_zeros_still_name_the_same_device() -> None:
    reading = interpret_response(200, _body("01728053249"), expected_devid="1728053249")
    assert reading.devid == "01728053249"
    reading = interpret_response(200, _body("1728053249"), expected_devid=" 001728053249 ")
    assert reading.devid == "1728053249"
