"""What a worker on the stored index holds in memory, written down: a snapshot a starting worker loads
instead of replaying the whole log.

Inputs: a resolver's name statistics (a count per given and family name, up to five family names per
given name, the records counted; its common curated names follow from those), its person numbering,
where merged persons went and the pairs kept apart; later, a snapshot's stored body.
Outputs: ``snapshot_of``: a JSON body; ``restore``: that state put into a fresh resolver, or
``SnapshotUnreadable`` naming the field (never a name in it) and what is wrong with it.
Guarantees: ``restore(snapshot_of(r))`` holds what a replay of the whole log gives under the running
release's rules (tested against such a replay); a snapshot written under other limits is refused, and
the common names are worked out afresh from the counts. JSON read through a strict model, never
pickle: a body read from the store is data, never code. Names are interned as ``Record.from_raw`` does.
"""

from __future__ import annotations

import json
from collections import Counter
from sys import intern
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationError

from streams.identity.names import known_given_name
from streams.identity.resolver import COMMON_NAME_RECORDS, KNOWN_IN_INDEX, Resolver

VERSION = 1
LARGEST_NUMBER = 10**12  # of persons or records: far beyond any service, and a person id still fits its column


class SnapshotUnreadable(ValueError):
    """A stored snapshot that cannot be loaded: another version, written under other limits, or a field
    missing, malformed or out of range. The message names the field, never a name in it."""


class _Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    known_in_index: PositiveInt
    common_name_records: PositiveInt


class _Snapshot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    limits: _Limits
    records_counted: Annotated[NonNegativeInt, Field(le=LARGEST_NUMBER)]
    last_person_number: Annotated[NonNegativeInt, Field(le=LARGEST_NUMBER)]
    given_counts: dict[str, PositiveInt]
    family_counts: dict[str, PositiveInt]
    given_families: dict[str, list[str]]
    absorbed_into: dict[str, str]
    apart: list[Annotated[list[str], Field(min_length=1, max_length=2)]]  # a pair (one person: an operator's no-op)


def _limits() -> dict[str, int]:
    return {"known_in_index": KNOWN_IN_INDEX, "common_name_records": COMMON_NAME_RECORDS}


def snapshot_of(resolver: Resolver) -> str:
    """The resolver's statistics and decisions as a JSON body. The common names are not written: they
    follow from the counts and the curated data, which a release may change (see ``restore``)."""
    return json.dumps({
        "version": VERSION, "limits": _limits(), "records_counted": resolver.total,
        "last_person_number": resolver.last_person_number,
        "given_counts": resolver.given_counts, "family_counts": resolver.family_counts,
        "given_families": {name: list(families) for name, families in resolver.given_families.items()},
        "absorbed_into": resolver.absorbed_into, "apart": [list(pair) for pair in resolver.apart],
    }, ensure_ascii=False, separators=(",", ":"))


def restore(resolver: Resolver, body: str) -> None:
    """Put a snapshot's state into ``resolver``, which must be fresh (nothing counted, no decisions): what
    a replay of the whole log gives under this release's rules. Written under other limits (the families
    that make a name real, the records that make one common), it is refused: a replay is needed. The
    common given names are worked out afresh from the counts, so curated data added since counts."""
    if resolver.total or resolver.absorbed_into or resolver.apart:
        raise ValueError("restore: the resolver already holds statistics; a snapshot goes into a fresh one")
    try:
        snapshot = _Snapshot.model_validate_json(body)
    except ValidationError as error:
        problem = error.errors()[0]
        # The top-level field only: deeper, the path runs through names (given_counts.megan), and logs
        # carry no personal data.
        field = str(problem["loc"][0]) if problem["loc"] else "body"
        raise SnapshotUnreadable(f"{field}: {problem['msg']}") from None
    if snapshot.limits.model_dump() != _limits():
        raise SnapshotUnreadable(f"limits: written under {snapshot.limits.model_dump()}, this release has {_limits()}")
    if any(len(families) > KNOWN_IN_INDEX for families in snapshot.given_families.values()):
        raise SnapshotUnreadable(f"given_families: a name with more than {KNOWN_IN_INDEX} family names")
    if max(sum(snapshot.given_counts.values()), sum(snapshot.family_counts.values())) > snapshot.records_counted:
        raise SnapshotUnreadable("records_counted: fewer than the names counted")
    resolver.total = snapshot.records_counted
    resolver.saw_person(f"P{snapshot.last_person_number:08d}")
    resolver.given_counts = Counter({intern(name): count for name, count in snapshot.given_counts.items()})
    resolver.family_counts = Counter({intern(name): count for name, count in snapshot.family_counts.items()})
    resolver.common_given_names = [name for name, count in resolver.given_counts.items()
                                   if count >= COMMON_NAME_RECORDS and known_given_name(name)]
    resolver.given_families = {intern(name): {intern(family) for family in families}
                               for name, families in snapshot.given_families.items()}
    resolver.absorbed_into = dict(snapshot.absorbed_into)
    resolver.apart = {frozenset(pair) for pair in snapshot.apart}
