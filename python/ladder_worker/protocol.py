"""The wire protocol, as defined once in protocol/wire.json (shared with the TypeScript side)."""

import json
import os
import re
from pathlib import Path

import msgpack

PROTOCOL_DIR = Path(__file__).resolve().parents[2] / "protocol"


def shared_file(name: str, env: str) -> dict:
    """A JSON file of protocol/ shared with the controller (the environment variable `env` may point elsewhere)."""
    return json.loads(Path(os.environ.get(env) or PROTOCOL_DIR / name).read_text())


WIRE = shared_file("wire.json", "LADDER_WIRE")
VERSION: int = WIRE["version"]
HEARTBEAT_INTERVAL_S: float = WIRE["heartbeat_interval_ms"] / 1000
# The environment variables that change what is measured (the one definition, shared with the controller).
MEASURED_ENV: re.Pattern = re.compile(WIRE["measured_env"])


class ProtocolError(Exception):
    pass


_CHECKS = {
    "str": lambda x: isinstance(x, str),
    "int": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "float": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
    "bool": lambda x: isinstance(x, bool),
    "map": lambda x: isinstance(x, dict),
    "list": lambda x: isinstance(x, (list, tuple)),
    "any": lambda x: True,
}


def validate(msg: dict, sender: str) -> dict:
    """Raise ProtocolError unless msg is a valid message that `sender` ('worker'|'controller') may send."""
    if not isinstance(msg, dict):
        raise ProtocolError(f"message is not a map: {type(msg).__name__}")
    if msg.get("v") != VERSION:
        raise ProtocolError(f"protocol version {msg.get('v')!r}, expected {VERSION}")
    spec = WIRE["messages"].get(msg.get("type"))
    if spec is None:
        raise ProtocolError(f"unknown message type {msg.get('type')!r}")
    if spec["from"] not in (sender, "both"):
        raise ProtocolError(f"{msg['type']!r} may not be sent by the {sender}")
    for name, kind in spec["fields"].items():
        optional = kind.endswith("?")
        kind = kind.rstrip("?")
        if name not in msg or msg[name] is None:
            if optional:
                continue
            raise ProtocolError(f"{msg['type']}: missing field {name!r}")
        if not _CHECKS[kind](msg[name]):
            raise ProtocolError(f"{msg['type']}.{name}: expected {kind}, got {type(msg[name]).__name__}")
    return msg


def message(type_: str, **fields) -> dict:
    return {"v": VERSION, "type": type_, **fields}


def encode(msg: dict, sender: str = "worker") -> bytes:
    return msgpack.packb(validate(msg, sender), use_bin_type=True)


def decode(data: bytes, sender: str = "controller") -> dict:
    try:
        msg = msgpack.unpackb(data, raw=False)
    except Exception as exc:  # malformed bytes are a protocol error, not a crash
        raise ProtocolError(f"undecodable message: {exc}") from exc
    return validate(msg, sender)
