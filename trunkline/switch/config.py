"""`trunkline switch`'s settings: command-line options over SWITCH_* environment variables over defaults.

No Django here (the switch never loads it): the environment is read directly, with the names DESIGN.md and the
README give.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_SIP_PORT = 5060
DEFAULT_HTTP_PORT = 8090
DEFAULT_PROCESSES = 1
DEFAULT_SLICE = 60  # reserve.DEFAULT_SLICE
DEFAULT_LEAD = 10  # reserve.DEFAULT_LEAD
DEFAULT_EDGE_RPC_URL = "http://127.0.0.1:5071/RPC"  # engine.DEFAULT_EDGE_RPC_URL


class ConfigError(ValueError):
    """A setting the switch cannot start with; the command line prints it and exits 2."""


@dataclass(frozen=True, slots=True)
class SwitchConfig:
    host: str
    sip_port: int
    http_port: int
    processes: int
    routing_file: Path
    node: str  # names this switch on every spool line (SWITCH_NODE, default the host name)
    counters_url: str | None  # redis://...: live counters shared by every process and node; None = in-process
    var_dir: Path  # the spool lives under it
    slice_seconds: int = DEFAULT_SLICE  # talk time one reservation buys (SWITCH_RESERVATION_SLICE, --slice)
    lead: int = DEFAULT_LEAD  # seconds before paid time runs out that the next slice is reserved
    edge_rpc_url: str = DEFAULT_EDGE_RPC_URL  # Kamailio's JSON-RPC, for dlg.end_dlg (SWITCH_EDGE_RPC_URL)


def _integer(name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {number}")
    return number


def resolve(*, host: str | None, sip_port: int | None, http_port: int | None, processes: int | None,
            routing_file: Path, var_dir: Path, environ: Mapping[str, str] = os.environ,
            slice_seconds: int | None = None) -> SwitchConfig:
    """The options given on the command line (None = not given) completed from the environment and defaults."""

    def pick(option: int | None, variable: str, default: int, low: int, high: int, flag: str = "") -> int:
        if option is not None:
            return _integer(flag or f"--{variable.removeprefix('SWITCH_').lower().replace('_', '-')}", str(option),
                            low, high)
        text = environ.get(variable, "").strip()
        return _integer(variable, text, low, high) if text else default

    config = SwitchConfig(
        host=host or environ.get("SWITCH_HOST", "").strip() or DEFAULT_HOST,
        sip_port=pick(sip_port, "SWITCH_SIP_PORT", DEFAULT_SIP_PORT, 0, 65535),
        http_port=pick(http_port, "SWITCH_HTTP_PORT", DEFAULT_HTTP_PORT, 0, 65535),
        processes=pick(processes, "SWITCH_PROCESSES", DEFAULT_PROCESSES, 1, 64),
        routing_file=routing_file,
        node=environ.get("SWITCH_NODE", "").strip() or socket.gethostname(),
        counters_url=environ.get("COUNTERS_URL", "").strip() or None,
        var_dir=var_dir,
        slice_seconds=pick(slice_seconds, "SWITCH_RESERVATION_SLICE", DEFAULT_SLICE, 6, 3600, "--slice"),
        lead=pick(None, "SWITCH_RESERVATION_LEAD", DEFAULT_LEAD, 1, 600),
        edge_rpc_url=environ.get("SWITCH_EDGE_RPC_URL", "").strip() or DEFAULT_EDGE_RPC_URL,
    )
    if config.lead >= config.slice_seconds:
        raise ConfigError(f"SWITCH_RESERVATION_LEAD ({config.lead} s) must be shorter than the reservation slice "
                          f"({config.slice_seconds} s)")
    if config.processes > 1 and config.counters_url is None:
        # Each process would count only the calls it answered: a customer limited to 10 channels would get 10
        # per process. Refused rather than enforced wrongly.
        raise ConfigError(f"--processes {config.processes} needs COUNTERS_URL (redis://host:port/db): several "
                          f"processes share one set of channel and CPS counters only through Redis; without it "
                          f"run one process")
    return config
