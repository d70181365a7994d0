"""Config flows of EKM Push (cloud key) and Push3 (LAN gateway) entries, against the simulators."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_API_KEY, CONF_API_TOKEN, CONF_HOST
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.meterlink.const import (
    CONF_CONNECTION,
    CONF_SCAN_INTERVAL,
    CONNECTION_EKM_PUSH,
    CONNECTION_PUSH3,
    DOMAIN,
)
from custom_components.meterlink.meters.ekm.reading import MeterVersion
from custom_components.meterlink.push import coordinator as push_coordinator
from custom_components.meterlink.push.coordinator import CONF_EXCLUDED
from custom_components.meterlink.push.flow import CONF_DEVICES
from simulator.ekm.meter import SimMeter
from simulator.ekm.push3 import Push3Simulator
from simulator.ekm.push_cloud import PushSimulator

from ..conftest import V3_ADDRESS, V4_ADDRESS, setup_entry
from .conftest import IOSTACK_ADDRESS, push3_entry, push_entry


async def _start(hass: HomeAssistant, step: str) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert step in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": step}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == step
    return dict(result)


# EKM Push cloud --------------------------------------------------------------------------------


async def test_cloud_flow_creates_entry_with_every_device(
    hass: HomeAssistant, push_simulator: PushSimulator
) -> None:
    key = push_simulator.account_key
    result = await _start(hass, "ekm_push")
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: f" {key} ", CONF_API_TOKEN: "token-1"}
        )
    )
    assert result["step_id"] == "ekm_push_devices"
    assert result["description_placeholders"] == {"meters": "2", "iostacks": "1"}
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_DEVICES: [V4_ADDRESS, V3_ADDRESS, IOSTACK_ADDRESS]}
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.data == {
        CONF_CONNECTION: CONNECTION_EKM_PUSH,
        CONF_API_KEY: key,
        CONF_API_TOKEN: "token-1",
    }
    assert entry.options[CONF_EXCLUDED] == []
    # The unique id names the account by its gateway, never by the secret key.
    gateway = next(iter(push_simulator.gateways))
    assert entry.unique_id == f"ekmpush-{gateway}"
    assert key not in entry.unique_id
    assert key not in entry.title
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_cloud_flow_keeps_unchosen_devices_out(
    hass: HomeAssistant, push_simulator: PushSimulator
) -> None:
    result = await _start(hass, "ekm_push")
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: push_simulator.account_key}
        )
    )
    result = dict(
        await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_DEVICES: []})
    )
    assert result["errors"] == {CONF_DEVICES: "no_devices_selected"}
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_DEVICES: [V4_ADDRESS]}
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_API_TOKEN not in result["data"]
    assert sorted(result["options"][CONF_EXCLUDED]) == sorted([V3_ADDRESS, IOSTACK_ADDRESS])


async def test_cloud_flow_errors(hass: HomeAssistant, push_simulator: PushSimulator) -> None:
    result = await _start(hass, "ekm_push")
    flow_id = result["flow_id"]
    cases: list[tuple[str, dict[str, str]]] = [
        ("bm90IGEga2V5", {CONF_API_KEY: "push_invalid_key"}),  # unknown key: 401
        ("not a key!", {CONF_API_KEY: "invalid_key_format"}),
    ]
    for key, errors in cases:
        result = dict(await hass.config_entries.flow.async_configure(flow_id, {CONF_API_KEY: key}))
        assert result["errors"] == errors, key
    push_simulator.faults.http_status = 503
    result = dict(
        await hass.config_entries.flow.async_configure(
            flow_id, {CONF_API_KEY: push_simulator.account_key}
        )
    )
    assert result["errors"] == {"base": "push_cannot_connect"}
    push_simulator.faults.http_status = 429
    push_simulator.faults.retry_after = "600"
    result = dict(
        await hass.config_entries.flow.async_configure(
            flow_id, {CONF_API_KEY: push_simulator.account_key}
        )
    )
    assert result["errors"] == {"base": "rate_limited"}
    push_simulator.faults.clear()
    push_simulator.faults.truncate = True
    result = dict(
        await hass.config_entries.flow.async_configure(
            flow_id, {CONF_API_KEY: push_simulator.account_key}
        )
    )
    assert result["errors"] == {"base": "push_invalid_response"}
    # A key never comes back to the browser in a form.
    assert push_simulator.account_key not in str(result)


async def test_cloud_flow_aborts_for_a_configured_account(
    hass: HomeAssistant, push_simulator: PushSimulator
) -> None:
    push_entry(push_simulator).add_to_hass(hass)
    result = await _start(hass, "ekm_push")
    gateway = next(iter(push_simulator.gateways))
    result = dict(
        await hass.config_entries.flow.async_configure(
            # The gateway's own key sees the same gateway: the same account.
            result["flow_id"],
            {CONF_API_KEY: push_simulator.gateway_keys[gateway]},
        )
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "push_already_configured"


async def test_cloud_reauth_recovers_the_entry(
    hass: HomeAssistant, push_simulator: PushSimulator
) -> None:
    entry = push_entry(push_simulator)
    push_simulator.account_key = "bmV3OmtleQ=="  # the account key was rotated
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    flow_id = flows[0]["flow_id"]
    result = dict(await hass.config_entries.flow.async_configure(flow_id))
    assert result["step_id"] == "ekm_push_reauth_confirm"
    result = dict(
        await hass.config_entries.flow.async_configure(flow_id, {CONF_API_KEY: "d3Jvbmc="})
    )
    assert result["errors"] == {CONF_API_KEY: "push_invalid_key"}
    result = dict(
        await hass.config_entries.flow.async_configure(flow_id, {CONF_API_KEY: "bmV3OmtleQ=="})
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_API_KEY] == "bmV3OmtleQ=="
    assert entry.state is ConfigEntryState.LOADED


async def test_cloud_reauth_refuses_another_account(
    hass: HomeAssistant, push_simulator: PushSimulator
) -> None:
    entry = push_entry(push_simulator)
    entry.add_to_hass(hass)
    result = dict(await entry.start_reauth_flow(hass))
    # A device key sees one meter and no gateway: not the account the entry was made for.
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: push_simulator.device_keys[V3_ADDRESS]}
        )
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"


async def test_cloud_reconfigure_replaces_key_and_token(
    hass: HomeAssistant, push_simulator: PushSimulator
) -> None:
    entry = push_entry(push_simulator)
    await setup_entry(hass, entry)
    gateway_key = push_simulator.gateway_keys[next(iter(push_simulator.gateways))]
    result = dict(await entry.start_reconfigure_flow(hass))
    assert result["step_id"] == "ekm_push_reconfigure"
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: "Zm9vOmJhcg=="}
        )
    )
    assert result["errors"] == {CONF_API_KEY: "push_invalid_key"}
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: gateway_key}
        )
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_API_KEY] == gateway_key
    assert CONF_API_TOKEN not in entry.data  # the token field was left empty
    await hass.async_block_till_done()
    result = dict(await entry.start_reconfigure_flow(hass))
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_API_KEY: gateway_key, CONF_API_TOKEN: "token-2"}
        )
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_API_TOKEN] == "token-2"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_cloud_options_change_interval_and_devices(
    hass: HomeAssistant, push_simulator: PushSimulator
) -> None:
    entry = push_entry(push_simulator)
    await setup_entry(hass, entry)
    result = dict(await hass.config_entries.options.async_init(entry.entry_id))
    assert result["step_id"] == "ekm_push_options"
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_SCAN_INTERVAL: 120, CONF_DEVICES: [V4_ADDRESS]}
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_SCAN_INTERVAL] == 120
    assert sorted(entry.options[CONF_EXCLUDED]) == sorted([V3_ADDRESS, IOSTACK_ADDRESS])


async def test_cloud_options_without_loaded_entry(
    hass: HomeAssistant, push_simulator: PushSimulator
) -> None:
    entry = push_entry(push_simulator, options={CONF_EXCLUDED: [V3_ADDRESS]})
    entry.add_to_hass(hass)
    result = dict(await hass.config_entries.options.async_init(entry.entry_id))
    result = dict(
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_SCAN_INTERVAL: 300}
        )
    )
    assert entry.options[CONF_SCAN_INTERVAL] == 300
    assert entry.options[CONF_EXCLUDED] == [V3_ADDRESS]


# Push3 gateway ---------------------------------------------------------------------------------


async def test_push3_flow_creates_entry(
    hass: HomeAssistant, push3_simulator: Push3Simulator
) -> None:
    result = await _start(hass, "ekm_push3")
    flow_id = result["flow_id"]
    result = dict(
        await hass.config_entries.flow.async_configure(
            flow_id, {CONF_HOST: push3_simulator.host, CONF_API_KEY: "d3Jvbmc="}
        )
    )
    assert result["errors"] == {CONF_API_KEY: "push3_invalid_key"}  # HTTP 500 with an HTML page
    result = dict(
        await hass.config_entries.flow.async_configure(
            flow_id, {CONF_HOST: "127.0.0.1:1", CONF_API_KEY: push3_simulator.key}
        )
    )
    assert result["errors"] == {CONF_HOST: "push3_cannot_connect"}
    result = dict(
        await hass.config_entries.flow.async_configure(
            flow_id, {CONF_HOST: "bad host/", CONF_API_KEY: push3_simulator.key}
        )
    )
    assert result["errors"] == {CONF_HOST: "invalid_host"}
    result = dict(
        await hass.config_entries.flow.async_configure(
            flow_id, {CONF_HOST: push3_simulator.host, CONF_API_KEY: push3_simulator.key}
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.data[CONF_CONNECTION] == CONNECTION_PUSH3
    assert entry.unique_id == f"push3-{min(push3_simulator.devices)}"
    assert push3_simulator.key not in entry.unique_id
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    # The same gateway again.
    result = await _start(hass, "ekm_push3")
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                CONF_HOST: push3_simulator.host,
                CONF_API_KEY: push3_simulator.key,
            },
        )
    )
    assert result["reason"] == "push3_already_configured"


async def test_push3_reauth_and_reconfigure(
    hass: HomeAssistant, push3_simulator: Push3Simulator
) -> None:
    entry = push3_entry(push3_simulator, key="b2xkOmtleQ==")
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flow = hass.config_entries.flow.async_progress_by_handler(DOMAIN)[0]
    result = dict(await hass.config_entries.flow.async_configure(flow["flow_id"]))
    assert result["step_id"] == "ekm_push3_reauth_confirm"
    result = dict(
        await hass.config_entries.flow.async_configure(flow["flow_id"], {CONF_API_KEY: "d3Jvbmc="})
    )
    assert result["errors"] == {CONF_API_KEY: "push3_invalid_key"}
    result = dict(
        await hass.config_entries.flow.async_configure(
            flow["flow_id"], {CONF_API_KEY: push3_simulator.key}
        )
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    result = dict(await entry.start_reconfigure_flow(hass))
    assert result["step_id"] == "ekm_push3_reconfigure"
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: "127.0.0.1:1", CONF_API_KEY: push3_simulator.key}
        )
    )
    assert result["errors"] == {CONF_HOST: "push3_cannot_connect"}
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: push3_simulator.host, CONF_API_KEY: push3_simulator.key}
        )
    )
    assert result["reason"] == "reconfigure_successful"


async def test_push3_reconfigure_refuses_another_gateway(
    hass: HomeAssistant, push3_simulator: Push3Simulator
) -> None:
    entry = push3_entry(push3_simulator)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, unique_id="push3-000000000001")
    result = dict(await entry.start_reconfigure_flow(hass))
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: push3_simulator.host, CONF_API_KEY: push3_simulator.key}
        )
    )
    assert result["reason"] == "wrong_gateway"


async def test_push3_options(hass: HomeAssistant, push3_simulator: Push3Simulator) -> None:
    entry = push3_entry(push3_simulator)
    await setup_entry(hass, entry)
    result = dict(await hass.config_entries.options.async_init(entry.entry_id))
    assert result["step_id"] == "ekm_push3_options"
    await hass.config_entries.options.async_configure(result["flow_id"], {CONF_SCAN_INTERVAL: 15})
    assert entry.options[CONF_SCAN_INTERVAL] == 15


async def test_cloud_title_for_several_gateways(hass: HomeAssistant) -> None:
    simulator = PushSimulator(
        [SimMeter(V4_ADDRESS), SimMeter(V3_ADDRESS, MeterVersion.V3)],
        gateways={"4016fa0500cd": [V4_ADDRESS], "4016fa0500ce": [V3_ADDRESS]},
    )
    async with simulator:
        push_coordinator.API_URL = push_coordinator.ACCOUNT_URL = simulator.base_url
        result = await _start(hass, "ekm_push")
        result = dict(
            await hass.config_entries.flow.async_configure(
                result["flow_id"], {CONF_API_KEY: simulator.account_key}
            )
        )
        result = dict(
            await hass.config_entries.flow.async_configure(
                result["flow_id"], {CONF_DEVICES: [V4_ADDRESS, V3_ADDRESS]}
            )
        )
        assert result["title"] == "EKM Push account"
        assert result["result"].unique_id == "ekmpush-4016fa0500cd"  # the lowest MAC
        await hass.config_entries.async_unload(result["result"].entry_id)
