"""What a worker on the stored index holds in memory, written down: a snapshot a starting worker loads
instead of replaying the whole log.

Inputs: a resolver's name statistics (a count per given and family name, the common curated names in
the order they became common, up to five family names per given name, the records counted), its person
numbering, where merged persons went and the pairs kept apart; later, a snapshot's stored body.
Outputs: ``snapshot_of``: a JSON body; ``restore``: that state put into a fresh resolver, or
``SnapshotUnreadable`` naming the field and what is wrong with it.
Guarantees: ``restore(snapshot_of(r))`` holds exactly r's statistics and decisions (tested against a
replay of the log). JSON read through a strict model, never pickle: a body read from the store is data,
never code. Names are interned as ``Record.from_raw`` interns them.
"""

from __future__ import annotations

import json
from collections import Counter
from sys import intern
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationError

from streams.identity.resolver import KNOWN_IN_INDEX, Resolver

VERSION = 1


class SnapshotUnreadable(ValueError):
    """A stored snapshot that cannot be loaded (another version, a missing or malformed field)."""


class _Snapshot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    records_counted: NonNegativeInt
    last_person_number: NonNegativeInt
    given_counts: dict[str, PositiveInt]
    family_counts: dict[str, PositiveInt]
    common_given_names: list[str]
    given_families: dict[str, list[str]]
    absorbed_into: dict[str, str]
    apart: list[Annotated[list[str], Field(min_length=1, max_length=2)]]  # a pair (one person: an operator's no-op)


def snapshot_of(resolver: Resolver) -> str:
    """The resolver's statistics and decisions as a JSON body."""
    return json.dumps({
        "version": VERSION, "records_counted": resolver.total, "last_person_number": resolver.last_person_number,
        "given_counts": resolver.given_counts, "family_counts": resolver.family_counts,
        "common_given_names": resolver.common_given_names,
        "given_families": {name: list(families) for name, families in resolver.given_families.items()},
        "absorbed_into": resolver.absorbed_into, "apart": [list(pair) for pair in resolver.apart],
    }, ensure_ascii=False, separators=(",", ":"))


def restore(resolver: Resolver, body: str) -> None:
    """Put a snapshot's state into ``resolver``, which must be fresh (nothing counted, no decisions)."""
    if resolver.total or resolver.absorbed_into or resolver.apart:
        raise ValueError("restore: the resolver already holds statistics; a snapshot goes into a fresh one")
    try:
        snapshot = _Snapshot.model_validate_json(body)
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(part) for part in problem["loc"]) or "body"
        raise SnapshotUnreadable(f"{field}: {problem['msg']}") from None
    crowded = next((name for name, families in snapshot.given_families.items() if len(families) > KNOWN_IN_INDEX), None)
    if crowded is not None:
        raise SnapshotUnreadable(f"given_families.{crowded}: more than {KNOWN_IN_INDEX} family names")
    resolver.total = snapshot.records_counted
    resolver.saw_person(f"P{snapshot.last_person_number:08d}")
    resolver.given_counts = Counter({intern(name): count for name, count in snapshot.given_counts.items()})
    resolver.family_counts = Counter({intern(name): count for name, count in snapshot.family_counts.items()})
    resolver.common_given_names = [intern(name) for name in snapshot.common_given_names]
    resolver.given_families = {intern(name): {intern(family) for family in families}
                               for name, families in snapshot.given_families.items()}
    resolver.absorbed_into = dict(snapshot.absorbed_into)
    resolver.apart = {frozenset(pair) for pair in snapshot.apart}
