"""The one codec: bytes from a topic become a validated event or a dead letter, never an exception.

Inputs: raw message bytes plus where they came from (topic, partition, offset, key).
Outputs: ``Accepted`` (the model and its canonical JSON) or ``DeadLetter`` (original bytes,
reason, field path, origin). Guarantee: ``decode`` never raises on any input; every failure
names the field and the reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from schemas import EVENT_TYPES, Envelope, parse_event

MAX_JSON_DEPTH = 32
UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
SAFE_NAME = re.compile(r"[a-z0-9_.\-]{1,64}")


@dataclass(frozen=True)
class Origin:
    """Where a message was read from (or, for the CLI, which file line)."""

    topic: str
    partition: int = -1
    offset: int = -1
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()  # the message's Kafka headers (the producer's credentials)


@dataclass(frozen=True)
class Accepted:
    event: Envelope
    origin: Origin

    @property
    def canonical_json(self) -> str:
        return self.event.model_dump_json(exclude_none=False)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.canonical_json.encode()).hexdigest()


@dataclass(frozen=True)
class DeadLetter:
    """An input that could not be accepted, with everything needed to understand and replay it."""

    original: bytes
    origin: Origin
    reason: str
    field_path: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    event_id: str | None = None
    event_type: str | None = None
    parked_at: datetime | None = None  # set by whoever parks it, from the pipeline's clock

    @property
    def dead_letter_id(self) -> str:
        """Stable id: the same message read twice parks once."""
        basis = f"{self.origin.topic}|{self.origin.partition}|{self.origin.offset}|".encode() + self.original
        return hashlib.sha256(basis).hexdigest()[:32]


def decode(raw: bytes | None, origin: Origin, *, max_bytes: int, allowed_types: tuple[str, ...] = EVENT_TYPES,
           now: datetime | None = None) -> Accepted | DeadLetter:
    """Turn one message into an accepted event or a dead letter; ``now`` judges "in the future"."""
    raw = raw or b""
    if len(raw) > max_bytes:
        return DeadLetter(raw, origin, f"message is {len(raw)} bytes, over the {max_bytes}-byte limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return DeadLetter(raw, origin, f"message is not valid UTF-8 (byte {exc.start})")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        return DeadLetter(raw, origin, f"message is not valid JSON: {detail}")
    if not isinstance(data, dict):
        return DeadLetter(raw, origin, f"an event must be a JSON object, not {type(data).__name__}")
    if _depth(data) > MAX_JSON_DEPTH:
        return DeadLetter(raw, origin, f"message nests deeper than {MAX_JSON_DEPTH} levels", **_ids(data))
    return validate(data, raw, origin, allowed_types, now)


def validate(data: dict, raw: bytes, origin: Origin, allowed_types: tuple[str, ...] = EVENT_TYPES,
             now: datetime | None = None) -> Accepted | DeadLetter:
    """Validate an already-parsed JSON object against the schemas."""
    ids = _ids(data)
    event_type = data.get("event_type")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        shown = event_type if isinstance(event_type, str) and SAFE_NAME.fullmatch(event_type) else "(not shown: not a plain name)"
        return DeadLetter(raw, origin, f"event_type: unknown event type {shown}; expected one of {', '.join(EVENT_TYPES)}",
                          field_path="event_type", **ids)
    if event_type not in allowed_types:
        return DeadLetter(raw, origin, f"event_type: {event_type} does not belong on topic {origin.topic} "
                          f"(it carries {', '.join(allowed_types)})", field_path="event_type", **ids)
    try:
        event = parse_event(data, now)
    except ValidationError as exc:
        errors = [_describe(error) for error in exc.errors(include_url=False, include_input=False)]
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return DeadLetter(raw, origin, f"{first['field']}: {first['message']}{more}", field_path=first["field"], errors=errors, **ids)
    return Accepted(event, origin)


DEAD_LETTER_ORIGINAL_MAX = 64 * 1024  # bytes of the original copied onto a dead-letter topic
DEAD_LETTER_REASON_MAX = 2000
DEAD_LETTER_ERRORS_MAX = 20


def dead_letter_payload(letter: DeadLetter) -> bytes:
    """The JSON written to a dead-letter topic: the diagnosis and at most ``DEAD_LETTER_ORIGINAL_MAX`` bytes
    of the original (hex), with its full length and SHA-256. Bounded whatever the input, so it always fits
    the broker's limit (a 1 MB original once made it too large to send); the full original is in the
    store (``safeguard dlq list``/``replay``)."""
    original = letter.original
    return json.dumps({
        "dead_letter_id": letter.dead_letter_id,
        "reason": letter.reason[:DEAD_LETTER_REASON_MAX],
        "field_path": letter.field_path,
        "errors": letter.errors[:DEAD_LETTER_ERRORS_MAX],
        "event_id": letter.event_id,
        "event_type": letter.event_type,
        "origin": {"topic": letter.origin.topic, "partition": letter.origin.partition, "offset": letter.origin.offset},
        "parked_at": letter.parked_at.isoformat() if letter.parked_at else None,
        "original_bytes": len(original),
        "original_sha256": hashlib.sha256(original).hexdigest(),
        "original_truncated": len(original) > DEAD_LETTER_ORIGINAL_MAX,
        "original_hex": original[:DEAD_LETTER_ORIGINAL_MAX].hex(),
    }).encode()


def _describe(error: dict[str, Any]) -> dict[str, str]:
    # Union members add their class names to the location; they mean nothing to a producer.
    parts = [str(p) for p in error["loc"]
             if not (isinstance(p, str) and (p[:1].isupper() or p.startswith("function-") or p in EVENT_TYPES))]
    message = error["msg"].removeprefix("Value error, ")
    named, _, rest = message.partition(": ")
    if not parts and rest and named.replace("_", "").isalnum():
        parts, message = [named], rest  # a model-level check that names its own field
    path = ".".join(parts) or "(event)"
    return {"field": path, "message": message, "type": error["type"]}


def _ids(data: dict) -> dict[str, str | None]:
    """The identifiers a dead letter is listed under: only a UUID event id and a known event type, so no
    text a producer chose is echoed onto the dashboard or into an alert."""
    event_id, event_type = data.get("event_id"), data.get("event_type")
    return {
        "event_id": event_id.lower() if isinstance(event_id, str) and UUID_TEXT.fullmatch(event_id) else None,
        "event_type": event_type if event_type in EVENT_TYPES else None,
    }


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON (a scalar is 0, ``{}`` is 1); stops counting past the limit."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level + 1)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest
