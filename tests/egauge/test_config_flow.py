"""eGauge config, reauth, reconfigure and options flows against the simulated meter."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.meterlink.const import CONF_CONNECTION, CONNECTION_EGAUGE, DOMAIN
from custom_components.meterlink.egauge.const import CONF_SSL, CONF_VERIFY_SSL
from simulator.egauge import EgaugeSimulator, SimEgauge

from ..conftest import setup_entry
from ..ekm.test_config_flow import check_config, check_options
from .conftest import (
    HOSTNAME,
    OWNER,
    OWNER_PASSWORD,
    SERIAL,
    VIEWER,
    VIEWER_PASSWORD,
    EntryBuilder,
)


def user_input(
    sim: EgaugeSimulator, *, https: bool = True, password: str = OWNER_PASSWORD, user: str = OWNER
) -> dict[str, Any]:
    return {
        CONF_HOST: sim.https_host if https else sim.host,
        CONF_USERNAME: user,
        CONF_PASSWORD: password,
        CONF_SSL: https,
        CONF_VERIFY_SSL: False,
    }


async def _start(hass: HomeAssistant) -> Any:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert "egauge" in result["menu_options"]
    return check_config(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "egauge"}
        )
    )


@pytest.mark.parametrize("https", [True, False])
async def test_user_flow_creates_the_entry(
    hass: HomeAssistant, egauge_sim: EgaugeSimulator, meter: SimEgauge, https: bool
) -> None:
    form = await _start(hass)
    assert form["step_id"] == "egauge"
    defaults = {
        str(key): key.default()
        for key in form["data_schema"].schema
        if callable(getattr(key, "default", None))
    }
    assert defaults[CONF_SSL] is True
    assert defaults[CONF_VERIFY_SSL] is False
    result = check_config(
        await hass.config_entries.flow.async_configure(
            form["flow_id"], user_input(egauge_sim, https=https)
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == HOSTNAME
    assert result["result"].unique_id == SERIAL
    assert result["data"][CONF_CONNECTION] == CONNECTION_EGAUGE
    options = result["options"]
    assert options["scan_interval"] == 30
    assert "Grid" in options["net_registers"]  # it changed sign within the last hour
    assert options["flipped_registers"] == ["HVAC"]  # only ever negative
    assert result["result"].state is ConfigEntryState.LOADED


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({CONF_PASSWORD: "wrong"}, CONF_PASSWORD, "egauge_invalid_auth"),
        ({CONF_HOST: "127.0.0.1:9"}, CONF_HOST, "egauge_cannot_connect"),
        ({CONF_HOST: "a/b"}, CONF_HOST, "egauge_invalid_host"),
    ],
)
async def test_user_flow_errors(
    hass: HomeAssistant, egauge_sim: EgaugeSimulator, change: dict[str, Any], field: str, error: str
) -> None:
    form = await _start(hass)
    result = check_config(
        await hass.config_entries.flow.async_configure(
            form["flow_id"], user_input(egauge_sim) | change
        )
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}


async def test_rebooting_meter_is_cannot_connect(
    hass: HomeAssistant, egauge_sim: EgaugeSimulator, meter: SimEgauge
) -> None:
    meter.reboot(delay=0)
    form = await _start(hass)
    result = await hass.config_entries.flow.async_configure(form["flow_id"], user_input(egauge_sim))
    assert result["errors"] == {CONF_HOST: "egauge_cannot_connect"}


async def test_same_meter_twice_aborts(
    hass: HomeAssistant, egauge_sim: EgaugeSimulator, make_egauge_entry: EntryBuilder
) -> None:
    await setup_entry(hass, make_egauge_entry())
    form = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"], user_input(egauge_sim, https=False)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "egauge_already_configured"


async def test_wrong_password_reauth_and_recovery(
    hass: HomeAssistant,
    egauge_sim: EgaugeSimulator,
    meter: SimEgauge,
    make_egauge_entry: EntryBuilder,
) -> None:
    entry = await setup_entry(hass, make_egauge_entry(password="stale-password"))
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress()
    assert len(flows) == 1
    assert flows[0]["context"]["source"] == "reauth"
    flow_id = flows[0]["flow_id"]
    form = check_config(await hass.config_entries.flow.async_configure(flow_id))
    assert form["step_id"] == "egauge_reauth_confirm"
    bad = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_USERNAME: OWNER, CONF_PASSWORD: "still-wrong"}
    )
    assert bad["errors"] == {CONF_PASSWORD: "egauge_invalid_auth"}
    done = check_config(
        await hass.config_entries.flow.async_configure(
            flow_id, {CONF_USERNAME: OWNER, CONF_PASSWORD: OWNER_PASSWORD}
        )
    )
    assert done["type"] is FlowResultType.ABORT
    assert done["reason"] == "egauge_reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.data[CONF_PASSWORD] == OWNER_PASSWORD


async def test_reconfigure_moves_to_http_and_refuses_another_meter(
    hass: HomeAssistant,
    egauge_sim: EgaugeSimulator,
    meter: SimEgauge,
    make_egauge_entry: EntryBuilder,
) -> None:
    entry = await setup_entry(hass, make_egauge_entry())
    result = check_config(await entry.start_reconfigure_flow(hass))
    assert result["step_id"] == "egauge_reconfigure"
    done = check_config(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: egauge_sim.host, CONF_SSL: False, CONF_VERIFY_SSL: False}
        )
    )
    assert done["reason"] == "egauge_reconfigure_successful"
    assert entry.data[CONF_HOST] == egauge_sim.host
    assert entry.data[CONF_SSL] is False
    await hass.async_block_till_done()
    meter.serial = "G99999"
    result = await entry.start_reconfigure_flow(hass)
    other = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_HOST: egauge_sim.https_host, CONF_SSL: True, CONF_VERIFY_SSL: False},
    )
    assert other["type"] is FlowResultType.ABORT
    assert other["reason"] == "egauge_another_meter"


async def test_options_flow(
    hass: HomeAssistant, egauge_sim: EgaugeSimulator, make_egauge_entry: EntryBuilder
) -> None:
    entry = await setup_entry(hass, make_egauge_entry())
    form = check_options(await hass.config_entries.options.async_init(entry.entry_id))
    assert form["step_id"] == "egauge"
    result = check_options(
        await hass.config_entries.options.async_configure(
            form["flow_id"],
            {
                "scan_interval": 7,
                "registers": ["Grid", "Solar"],
                "net_registers": ["Grid"],
                "flipped_registers": [],
            },
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["scan_interval"] == 7
    assert entry.options["registers"] == ["Grid", "Solar"]


async def test_viewer_gets_an_entry_without_commands(
    hass: HomeAssistant, egauge_sim: EgaugeSimulator
) -> None:
    form = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        form["flow_id"], user_input(egauge_sim, user=VIEWER, password=VIEWER_PASSWORD)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert hass.states.get("button.egauge42_reboot") is None
    assert hass.states.get("sensor.egauge42_grid") is not None
