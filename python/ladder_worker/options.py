"""A backend's options, checked against the one definition: protocol/options.json, the JSON Schema the
controller generates from each backend's zod schema. The worker keeps no limits or defaults of its own:
a rung's options arrive with the controller's defaults applied, and anything missing (a backend built
directly, the probe job) gets the schema's default.

Only the part of JSON Schema those schemas use is read: type, enum, const, numeric and length bounds,
pattern, items / prefixItems, properties / required / additionalProperties, anyOf, default.
"""

import math
import re

from .errors import UserError
from .protocol import shared_file

SCHEMAS: dict = shared_file("options.json", "LADDER_OPTIONS")["backends"]

_TYPES = {
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x),
    "array": lambda x: isinstance(x, (list, tuple)),
    "object": lambda x: isinstance(x, dict),
    "null": lambda x: x is None,
}


def problem(schema: dict, value, where: str) -> str | None:
    """Why `value` does not fit `schema` (one line naming `where`), or None."""
    if "anyOf" in schema:
        found = [problem(s, value, where) for s in schema["anyOf"]]
        return None if any(p is None for p in found) else found[0]
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        # An integer-valued float (1.0 from msgpack or YAML) is an integer.
        if "integer" in types and isinstance(value, float) and value.is_integer():
            value = int(value)
        if not any(_TYPES[t](value) for t in types):
            return f"{where} must be {' or '.join(types)}, got {value!r}"
    if "const" in schema and value != schema["const"]:
        return f"{where} must be {schema['const']!r}, got {value!r}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where} must be one of {', '.join(map(str, schema['enum']))}, got {value!r}"
    if _TYPES["number"](value):
        for key, ok, words in (
            ("minimum", lambda v, b: v >= b, ">="),
            ("maximum", lambda v, b: v <= b, "<="),
            ("exclusiveMinimum", lambda v, b: v > b, ">"),
            ("exclusiveMaximum", lambda v, b: v < b, "<"),
        ):
            if key in schema and not ok(value, schema[key]):
                return f"{where} must be {words} {schema[key]}, got {value!r}"
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", math.inf) or len(value) < schema.get("minLength", 0):
            return f"{where} must be {schema.get('minLength', 0)} to {schema.get('maxLength')} characters long"
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return f"{where} must match {schema['pattern']}, got {value!r}"
    if isinstance(value, (list, tuple)):
        if len(value) > schema.get("maxItems", math.inf) or len(value) < schema.get("minItems", 0):
            return f"{where} has {len(value)} items, outside {schema.get('minItems', 0)}..{schema.get('maxItems')}"
        fixed = schema.get("prefixItems", [])
        for i, item in enumerate(value):
            sub = fixed[i] if i < len(fixed) else schema.get("items")
            if sub is False:
                return f"{where} has {len(value)} items, at most {len(fixed)}"
            if isinstance(sub, dict) and (p := problem(sub, item, f"{where}[{i}]")):
                return p
    if isinstance(value, dict) and ("properties" in schema or "additionalProperties" in schema):
        return object_problem(schema, value, where)
    return None


def object_problem(schema: dict, value: dict, where: str) -> str | None:
    props = schema.get("properties", {})
    if schema.get("additionalProperties") is False:
        unknown = sorted(set(value) - set(props))
        if unknown:
            return f"{where}unknown option {unknown[0]!r} (known: {', '.join(props)})"
    for key in schema.get("required", []):
        if key not in value:
            return f"{where}{key} is required"
    for key, sub in props.items():
        if key in value and (p := problem(sub, value[key], f"{where}{key}")):
            return p
    return None


def resolve(backend: str, options: dict | None) -> dict:
    """The options of `backend` checked against its schema, each missing one given the schema's default
    (None when it has none: "unset"). A UserError names the first problem."""
    schema = SCHEMAS.get(backend)
    if schema is None:
        raise UserError(f"backend {backend!r} has no options schema in protocol/options.json (npm run protocol)")
    # None is "unset", as an absent key (the controller's undefined arrives as nil).
    options = {k: v for k, v in (options or {}).items() if v is not None}
    if p := object_problem(schema, options, f"{backend} backend: "):
        raise UserError(p)
    props = schema.get("properties", {})
    return {key: options[key] if key in options else sub.get("default") for key, sub in props.items()}
