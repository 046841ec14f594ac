"""Generates the committed contract files from the pydantic models.

Inputs: the event models (``schemas.events``) and topic declarations (``streams.kafka.topics``).
Outputs: ``schemas/jsonschema/<event_type>.json`` per event type (self-contained: definitions under
their own ``$defs``) and ``schemas/asyncapi.json`` (the definitions moved to ``components/schemas``,
see ``schemas.components``, so every ``$ref`` resolves from the document root).
Guarantee: deterministic output, so ``tests/unit/test_contract_files.py`` fails whenever the
committed copies are stale, and ``tests/unit/test_asyncapi_parser.py`` checks the AsyncAPI document
with the AsyncAPI parser. Run ``make schemas`` (``python -m schemas.generate``) after a change.
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas.components import hoist_defs
from schemas.events import EVENT_MODELS
from schemas.examples import EXAMPLES

HERE = Path(__file__).parent
JSON_SCHEMA_DIR = HERE / "jsonschema"
ASYNCAPI_FILE = HERE / "asyncapi.json"


def json_schemas() -> dict[str, dict]:
    """One JSON Schema (draft 2020-12) per event type."""
    out = {}
    for event_type, model in EVENT_MODELS.items():
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"urn:safeguard:event:{event_type}:v1"
        schema["examples"] = [EXAMPLES[event_type]]
        out[event_type] = schema
    return out


def message_key(event_type: str) -> str:
    """The AsyncAPI key of an event type's message (``ppn.submitted`` -> ``ppn_submitted``)."""
    return event_type.replace(".", "_")


def asyncapi() -> dict:
    """AsyncAPI 3.0 description of the inbound topics and their messages."""
    from streams.kafka.topics import Topology
    from streams.settings import Settings

    topology = Topology.from_settings(Settings(_env_file=None))  # defaults, not this machine's environment
    # A payload is not the document root, so its own "#/$defs/..." would not resolve: hoist them.
    # "$id" goes too: inside a payload it would make "#/components/..." resolve against the payload.
    payloads, component_schemas = hoist_defs({
        message_key(event_type): {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
        for event_type, schema in json_schemas().items()})
    channels, operations, messages = {}, {}, {}
    for spec in topology.inbound:
        channel_id = spec.name.replace(".", "_").replace("-", "_")
        channels[channel_id] = {
            "address": spec.name,
            "description": f"{spec.description} Key: the child's key (nhs:<NHS number> or src:<organisation code>:<person id>). "
                           f"Refused messages are parked on {spec.dead_letter}.",
            "messages": {message_key(t): {"$ref": f"#/components/messages/{message_key(t)}"} for t in spec.event_types},
        }
        operations[f"publish_{channel_id}"] = {"action": "send", "channel": {"$ref": f"#/channels/{channel_id}"},
                                               "summary": f"Producers publish {', '.join(spec.event_types)} here (acks=all)."}
        for event_type in spec.event_types:
            messages[message_key(event_type)] = {
                "name": event_type, "title": EVENT_MODELS[event_type].__name__, "contentType": "application/json",
                "summary": (EVENT_MODELS[event_type].__doc__ or "").strip().splitlines()[0],
                "payload": payloads[message_key(event_type)],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Child-safeguarding information-sharing events", "version": "1.0.0",
                 "description": "Events police, local authorities, health and schools publish. See EVENTS.md."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": component_schemas},
    }


def render(value: dict) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def expected_files() -> dict[Path, str]:
    files = {JSON_SCHEMA_DIR / f"{event_type}.json": render(schema) for event_type, schema in json_schemas().items()}
    files[ASYNCAPI_FILE] = render(asyncapi())
    return files


def main() -> None:
    JSON_SCHEMA_DIR.mkdir(exist_ok=True)
    for path, text in expected_files().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
