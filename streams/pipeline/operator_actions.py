"""What an operator does to the pipeline, from the command line or the dashboard, done the same way.

Inputs: the services, the operator's name (``actor``: who did it, from their credentials) and, for
replays, a way to publish raw messages. Outputs: an identity review decided (confirm: merged, with
its notice and the re-judging of both persons; reject: kept apart for good); dead letters replayed
onto the topic they were refused from. Guarantees: every decision is written in one transaction with
its audit line naming the actor (the index's, for a decision); an event refused for its producer's credentials is never replayed
(the replay would vouch for whoever forged it); a replay marks the letter, so the dashboard shows it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from uuid import uuid4

from sqlmodel import Session, select

from sinks.audit import AuditEntry
from sinks.contract import SinkRefused, UnitOfWork
from sinks.models import DeadLetterRecord
from streams.identity.index import IdentityRefused
from streams.pipeline.intake import CREDENTIALS_FIELD
from streams.pipeline.rejudge import after_identity_decision
from streams.services import Services

DECISIONS = ("confirm", "reject")
_ONE_DECISION_AT_A_TIME = threading.Lock()
Publish = Callable[[list[tuple[str, bytes | None, bytes]]], None]


class ActionRefused(ValueError):
    """An operator's request that cannot be carried out; the message says why."""


def decide_review(services: Services, review_id: str, decision: str, actor: str) -> str:
    """Confirm (merge) or reject (keep apart) one open review; returns what was done, in one line."""
    if decision not in DECISIONS:
        raise ActionRefused(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    # One at a time in this process: the web app runs requests in threads that share one identity index,
    # and a refused request discarding its memory must not pull it from under another's merge.
    with _ONE_DECISION_AT_A_TIME, Session(services.engine) as session:
        try:
            if decision == "confirm":
                notice = services.identity.confirm(session, review_id, actor)
                written = after_identity_decision(session, services, notice, actor)
            else:
                services.identity.reject(session, review_id, actor)  # audited by the index, under the actor
                notice, written = None, set()
            session.commit()
        except BaseException as exc:
            services.identity.discard()  # a merge it made in memory was rolled back with the transaction
            if isinstance(exc, (IdentityRefused, SinkRefused)):
                raise ActionRefused(str(exc)) from exc
            raise
    services.flush_sinks(sorted(written))
    return f"done: {notice.content['event_type']} change {notice.content['change_seq']}" if notice else "done: kept apart"


@dataclass
class ReplayOutcome:
    replayed: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (dead letter id, why it was not replayed)


def replay_dead_letters(services: Services, publish: Publish, ids: Sequence[str], everything: bool, actor: str) -> ReplayOutcome:
    """Publish named (or, with ``everything``, all not yet replayed) dead letters again, as received, onto the topic
    they were refused from, and mark them replayed; an unknown id refuses the whole request."""
    outcome = ReplayOutcome()
    with Session(services.engine) as session:
        letters = list(session.exec(select(DeadLetterRecord).order_by(DeadLetterRecord.parked_at)))  # type: ignore[arg-type]
        missing = set(ids) - {letter.dead_letter_id for letter in letters}
        if missing:
            raise ActionRefused(f"no dead letter with id {', '.join(sorted(missing))}")
        chosen = [letter for letter in letters if (everything and letter.replayed_at is None) or letter.dead_letter_id in ids]
        for letter in chosen:
            if letter.field_path == CREDENTIALS_FIELD:
                outcome.refused.append((letter.dead_letter_id, "refused for its producer's credentials "
                                        f"({letter.reason[:200]}); the producer must send it again, signed"))
            elif not services.topology.spec_named(letter.topic):
                outcome.refused.append((letter.dead_letter_id, f"topic {letter.topic} is not one of this pipeline's"))
        replayable = [letter for letter in chosen if letter.dead_letter_id not in {i for i, _ in outcome.refused}]
        if not replayable:
            raise ActionRefused("nothing replayable: " + ("; ".join(f"{i}: {why}" for i, why in outcome.refused)
                                                          or "name dead-letter ids or ask for all"))
        publish([(letter.topic, None, letter.original) for letter in replayable])
        now = services.clock.now()
        for letter in replayable:
            letter.replayed_at = now
            session.add(letter)
            outcome.replayed.append(letter.dead_letter_id)
        services.audit.write([AuditEntry(audit_id=f"replay:{uuid4()}", action="dead_letters_replayed",
                                         detail=json.dumps({"dead_letter_ids": outcome.replayed}))],
                             UnitOfWork(session, actor, now))
        session.commit()
    return outcome
