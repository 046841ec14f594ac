"""The deadline watch: one mechanism for every timed and counting rule in EVENTS.md.

Inputs: validated events (inside the router's transaction), the rules data (``deadline_rules.toml``:
thresholds, alert titles, who is alerted by role) and the pipeline's clock. Outputs: ``deadline``, ``missing_episode`` and ``child_incident`` rows, and
planned deliveries: alerts (to the ``alerts`` sink, naming the rule, the child, the deadline
and the evidence) and key-worker notifications. Guarantees: deadlines are computed from event
time; each breach alerts once (the breach is a status change in the same transaction as the
alert, and alert ids are derived from the deadline), even after restarts or redelivery; an
awaited event arriving late resolves the breach with a second, resolving alert; events may
arrive in any order (an outcome before its PPN leaves the deadline already met).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from schemas import Envelope, PersonRef
from schemas.events import (
    CprAmended,
    CprRegistered,
    MissingReported,
    MissingReturned,
    PpnSubmitted,
    ReferralOutcome,
    ReturnInterviewCompleted,
)
from sinks.contract import PlannedDelivery
from sinks.models import ChildIncident, Deadline, MissingEpisode, RegisterFlag
from sinks.store import insert_ignoring_duplicates, stage_insert
from streams.deadlines.working_time import add_working_days, add_working_hours
from streams.identity.keys import children_of, person_key
from streams.register.history import UNBORN_FLAG_GRACE
from streams.sharing.policy import Policy, RoutingContext

RULES_FILE = Path(__file__).with_name("deadline_rules.toml")
OPEN, MET, BREACHED, RESOLVED = "open", "met", "breached", "resolved"
RECIPIENT_ROLES = ("area_local_authority", "area_police_force", "area_health_board", "referrer", "school_local_authority",
                   "register_local_authority")
RULES = ("missing_without_ppn", "return_interview", "repeat_missing", "repeat_standard_ppn", "referral_outcome",
         "unmatched_referral_outcome", "ppn_triage", "encompass_acknowledgement", "registered_child_incident", "unborn_flag_lapse")


@dataclass(frozen=True)
class WatchRules:
    version: str
    titles: dict[str, str]
    alert_roles: dict[str, tuple[str, ...]]
    missing_without_ppn_hours: float
    return_interview_hours: float
    repeat_missing_episodes: int
    repeat_missing_days: int
    repeat_ppn_count: int
    repeat_ppn_days: int
    referral_working_days: int
    unmatched_outcome_grace: timedelta
    triage_working_hours: dict[str, float]
    incident_event_types: tuple[str, ...]

    @classmethod
    def load(cls, path: Path = RULES_FILE) -> WatchRules:
        data = tomllib.loads(path.read_text())
        try:
            roles = {rule: tuple(data[rule]["alert"]) for rule in RULES}
            unknown = sorted({role for found in roles.values() for role in found} - set(RECIPIENT_ROLES))
            if unknown:
                raise ValueError(f"unknown alert role(s) {unknown}; known: {', '.join(RECIPIENT_ROLES)}")
            if roles["unborn_flag_lapse"] != ("area_health_board", "area_police_force"):
                raise ValueError("unborn_flag_lapse alerts the health board then the police force (a flag and a marker removal)")
            return cls(
                version=data["version"],
                titles={rule: str(data[rule]["title"]) for rule in RULES},
                alert_roles=roles,
                missing_without_ppn_hours=float(data["missing_without_ppn"]["hours"]),
                return_interview_hours=float(data["return_interview"]["hours"]),
                repeat_missing_episodes=int(data["repeat_missing"]["episodes"]),
                repeat_missing_days=int(data["repeat_missing"]["days"]),
                repeat_ppn_count=int(data["repeat_standard_ppn"]["count"]),
                repeat_ppn_days=int(data["repeat_standard_ppn"]["days"]),
                referral_working_days=int(data["referral_outcome"]["working_days"]),
                unmatched_outcome_grace=timedelta(minutes=float(data["unmatched_referral_outcome"]["grace_minutes"])),
                triage_working_hours={k: float(v) for k, v in data["ppn_triage"]["working_hours"].items()},
                incident_event_types=tuple(data["registered_child_incident"]["event_types"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: watch rules incomplete or malformed: {exc}") from exc


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class Watch:
    def __init__(self, rules: WatchRules, policy: Policy, clock: Callable[[], datetime]) -> None:
        self.rules = rules
        self.policy = policy
        self.clock = clock

    # -- events -----------------------------------------------------------------------------------
    def on_event(self, session: Session, event: Envelope, context: RoutingContext) -> list[PlannedDelivery]:
        """Open, meet or count whatever ``event`` bears on; returns immediate alerts/notifications."""
        out: list[PlannedDelivery] = []
        out += self.key_worker_notices(event, context)
        if isinstance(event, PpnSubmitted):
            out += self._on_ppn(session, event, context)
        elif isinstance(event, MissingReported):
            out += self._on_missing(session, event, context)
        elif isinstance(event, MissingReturned):
            self._episode(session, event.episode_reference, event.child, event.source.organisation_code, returned_at=event.returned_at)
            self._open(session, "return_interview", event.episode_reference, self._key(event.child, event),
                       event.returned_at + timedelta(hours=self.rules.return_interview_hours),
                       self.recipients("return_interview", context), {"returned_at": event.returned_at.isoformat()})
        elif isinstance(event, ReturnInterviewCompleted):
            out += self._meet(session, "return_interview", event.episode_reference, event.completed_at, str(event.event_id))
        elif isinstance(event, (CprRegistered, CprAmended)) and context.register_change_is_current(event):
            self._watch_unborn_flag(session, event, context)
        elif isinstance(event, ReferralOutcome):
            for rule in ("referral_outcome", "ppn_triage"):
                out += self._meet(session, rule, event.referral_reference, event.decided_at, str(event.event_id))
            if context.referrer_of(event.referral_reference) is None:
                # Nobody to tell yet: the referral may be on its way on another topic, so alert only after the grace.
                self._open(session, "unmatched_referral_outcome", event.referral_reference, None,
                           self.clock() + self.rules.unmatched_outcome_grace,
                           self.recipients("unmatched_referral_outcome", context),
                           {"referral_reference": event.referral_reference, "decision": event.decision.value,
                            "decided_at": event.decided_at.isoformat(), "outcome_event_id": str(event.event_id)})
        return out

    def _watch_unborn_flag(self, session: Session, event: CprRegistered, context: RoutingContext) -> None:
        key = person_key(event.child, event.local_authority.code)
        flag = session.get(RegisterFlag, key)
        due_date = json.loads(flag.details_json).get("expected_due_date") if flag else None
        if not due_date:
            return
        lapse = datetime.combine(date.fromisoformat(due_date) + UNBORN_FLAG_GRACE, time(0, 0), timezone.utc)
        self._open(session, "unborn_flag_lapse", f"{key}|{due_date}", key, lapse,
                   self.recipients("unborn_flag_lapse", context), {"expected_due_date": due_date})

    def _lapse_unborn_flag(self, session: Session, deadline: Deadline) -> list[PlannedDelivery]:
        """Remove an unborn child's flag whose delete date has passed, unless a later change replaced it."""
        key, due_date = deadline.reference.rsplit("|", 1)
        flag = session.get(RegisterFlag, key)
        if flag is None or not flag.active or json.loads(flag.details_json).get("expected_due_date") != due_date:
            return []
        flag.active = False
        session.add(flag)
        details, child = json.loads(flag.details_json), json.loads(flag.child_json)
        identity = {k: child[k] for k in ("source_person_id", "given_names", "family_name", "date_of_birth", "nhs_number")
                    if child.get(k)}
        reason = "unborn child's flag lapsed 28 days after the expected due date without a birth registration"
        recipients = json.loads(deadline.recipients_json)
        return [
            self.policy.plan_operational("unborn_flag_lapse_health", deadline.deadline_id, {
                "register_action": "remove", "reason": reason, "child": identity, "flag": details}, recipient=recipients[0],
                subject_key=key),
            self.policy.plan_operational("unborn_flag_lapse_police", deadline.deadline_id, {
                "register_action": "remove", "reason": reason, "child": {k: v for k, v in identity.items() if k != "nhs_number"},
                "marker": {k: details.get(k) for k in ("local_authority", "categories")}}, recipient=recipients[1],
                subject_key=key),
        ]

    def _key(self, child: PersonRef, event: Envelope) -> str:
        return person_key(child, event.source.organisation_code)

    def _on_ppn(self, session: Session, event: PpnSubmitted, context: RoutingContext) -> list[PlannedDelivery]:
        out: list[PlannedDelivery] = []
        children = event.child_persons()
        for child in children:
            key = self._key(child, event)
            stage_insert(session, ChildIncident, {
                "incident_key": f"{event.event_id}|{key}", "child_key": key, "source_event_id": str(event.event_id),
                "kind": "ppn", "category": event.category.value, "grade": event.risk_level.value,
                "reference": event.ppn_reference, "occurred_at": event.occurred_at}, ["incident_key"])
            keys = context.child_keys(child)
            if event.risk_level.value == "standard":
                out += self._repeat_standard_ppn(session, event, keys, context)
            if event.category.value == "missing_child":
                out += self._link_missing_by_child(session, keys, event)
        if event.missing_episode_reference:
            self._episode(session, event.missing_episode_reference, children[0], event.source.organisation_code,
                          ppn_reference=event.ppn_reference)
            out += self._meet(session, "missing_without_ppn", event.missing_episode_reference, event.recorded_at, str(event.event_id))
        subject = self._key(children[0], event)
        hours = self.rules.triage_working_hours[event.risk_level.value]
        self._open(session, "ppn_triage", event.ppn_reference, subject, add_working_hours(event.occurred_at, hours),
                   self.recipients("ppn_triage", context),
                   {"grade": event.risk_level.value, "working_hours": hours})
        self._open(session, "referral_outcome", event.ppn_reference, subject,
                   add_working_days(event.occurred_at, self.rules.referral_working_days),
                   self.recipients("referral_outcome", context, referrer=event.source.organisation_code),
                   {"referrer": event.source.organisation_code})
        return out

    def repeat_escalations(self, session: Session, keys: set[str], context: RoutingContext) -> list[PlannedDelivery]:
        """Every repeat escalation the child's whole history (by all its keys) calls for now: what a merge or an
        un-merge is judged against."""
        return self._repeat_standard_ppn(session, None, keys, context) + self._repeat_missing(session, None, keys, context)

    def _repeat_standard_ppn(self, session: Session, event: PpnSubmitted | None, keys: set[str],
                             context: RoutingContext) -> list[PlannedDelivery]:
        """Every standard-grade PPN about this child (any of its keys) whose window the new one falls in is
        judged again, so the Nth in event time escalates whatever order they arrive in (no event: every window)."""
        rows = session.exec(select(ChildIncident).where(ChildIncident.child_key.in_(sorted(keys)),  # type: ignore[attr-defined]
                                                        ChildIncident.kind == "ppn", ChildIncident.grade == "standard")).all()
        ppns = sorted({r.source_event_id: r for r in rows}.values(), key=lambda r: (_aware(r.occurred_at), r.source_event_id))
        out: list[PlannedDelivery] = []
        for last, recent in _full_windows(ppns, lambda r: _aware(r.occurred_at), event.occurred_at if event else None,
                                          timedelta(days=self.rules.repeat_ppn_days), self.rules.repeat_ppn_count):
            out += self._escalate(
                "repeat_standard_ppn", f"{last.child_key}|{last.source_event_id}", context, last.child_key, last.reference,
                {"standard_ppns_in_window": [r.reference for r in recent], "window_days": self.rules.repeat_ppn_days})
        return out

    def _on_missing(self, session: Session, event: MissingReported, context: RoutingContext) -> list[PlannedDelivery]:
        key = self._key(event.child, event)
        episode = self._episode(session, event.episode_reference, event.child, event.source.organisation_code,
                                reported_at=event.occurred_at, looked_after=event.looked_after,
                                profile_reference=event.profile_reference, ppn_reference=event.ppn_reference)
        keys = context.child_keys(event.child)
        linked = episode.ppn_reference or self._recent_missing_ppn(session, keys, event.occurred_at)
        due = event.occurred_at + timedelta(hours=self.rules.missing_without_ppn_hours)
        self._open(session, "missing_without_ppn", event.episode_reference, key, due,
                   self.recipients("missing_without_ppn", context), {"reported_at": event.occurred_at.isoformat()},
                   status=MET if linked else OPEN)
        return self._repeat_missing(session, event, keys, context)

    def _repeat_missing(self, session: Session, event: MissingReported | None, keys: set[str],
                        context: RoutingContext) -> list[PlannedDelivery]:
        """Every episode of this child (any of its keys) whose window the new one falls in is judged again, so
        the Nth episode in event time escalates whatever order the reports arrive in (no event: every window)."""
        out: list[PlannedDelivery] = []
        episodes = sorted((e for e in session.exec(select(MissingEpisode).where(
            MissingEpisode.child_key.in_(sorted(keys)))) if e.reported_at is not None),  # type: ignore[attr-defined]
            key=lambda e: (_aware(e.reported_at), e.episode_reference))
        for last, recent in _full_windows(episodes, lambda e: _aware(e.reported_at), event.occurred_at if event else None,
                                          timedelta(days=self.rules.repeat_missing_days), self.rules.repeat_missing_episodes):
            out += self._escalate(
                "repeat_missing", f"{last.child_key}|{last.episode_reference}", context, last.child_key,
                last.episode_reference, {"episodes_in_window": sorted(e.episode_reference for e in recent),
                                         "window_days": self.rules.repeat_missing_days, "looked_after": bool(last.looked_after)})
        return out

    def _recent_missing_ppn(self, session: Session, keys: set[str], reported_at: datetime) -> bool:
        since = reported_at - timedelta(hours=self.rules.missing_without_ppn_hours)
        rows = session.exec(select(ChildIncident).where(ChildIncident.child_key.in_(sorted(keys)),  # type: ignore[attr-defined]
                                                        ChildIncident.category == "missing_child")).all()
        return any(_aware(r.occurred_at) >= since for r in rows)

    def _link_missing_by_child(self, session: Session, keys: set[str], event: PpnSubmitted) -> list[PlannedDelivery]:
        out: list[PlannedDelivery] = []
        # By the child only (a few rows): with the rule too, SQLite's planner walks every missing-child deadline.
        for deadline in session.exec(select(Deadline).where(Deadline.subject_key.in_(sorted(keys)))).all():  # type: ignore[attr-defined]
            if deadline.rule != "missing_without_ppn" or deadline.status not in (OPEN, BREACHED):
                continue
            out += self._meet(session, "missing_without_ppn", deadline.reference, event.recorded_at, str(event.event_id))
        return out

    def _episode(self, session: Session, reference: str, child: PersonRef, organisation: str, **values: Any) -> MissingEpisode:
        episode = session.get(MissingEpisode, reference)
        if episode is None:
            episode = MissingEpisode(episode_key=reference, child_key=person_key(child, organisation), episode_reference=reference)
        for name, value in values.items():
            if value is not None and not (name == "looked_after" and value is False and episode.looked_after):
                setattr(episode, name, value)
        session.add(episode)
        session.flush()
        return episode

    def key_worker_notices(self, event: Envelope, context: RoutingContext) -> list[PlannedDelivery]:
        """A notification to the key worker of every child the event concerns who was on a register when it happened."""
        if event.event_type not in self.rules.incident_event_types:  # type: ignore[attr-defined]
            return []
        out = []
        for child in children_of(event):
            flag = context.flag_for(child)
            if not flag:
                continue
            reference = getattr(event, "ppn_reference", None) or getattr(event, "incident_reference", None) or \
                getattr(event, "episode_reference", None)
            key = self._key(child, event)
            out.append(self.policy.plan_operational("registered_child_incident", f"{event.event_id}|{key}", {
                "notification": self.rules.titles["registered_child_incident"],
                "watch_rule": "registered_child_incident", "subject_key": key, "reference": reference,
                "incident_type": event.event_type, "occurred_at": event.occurred_at.isoformat(),  # type: ignore[attr-defined]
                "register_key_worker": {"key_worker": flag.get("key_worker"), "plan_reference": flag.get("plan_reference")},
                "event_id": str(event.event_id), "event_type": event.event_type,  # type: ignore[attr-defined]
            }, recipient=flag["local_authority"]["code"], subject_key=key))
        return out

    def referrals_answered_early(self, session: Session, events: list[Envelope]) -> set[str]:
        """PPN references, among ``events``, whose outcome arrived before them: one query per batch,
        so that the common case (no early outcome) costs nothing per event."""
        wanted = [f"referral_outcome|{e.ppn_reference}" for e in events if isinstance(e, PpnSubmitted)]
        if not wanted:
            return set()
        rows = session.exec(select(Deadline.reference, Deadline.status, Deadline.recipients_json)  # type: ignore[call-overload]
                            .where(Deadline.deadline_id.in_(wanted)))  # by key only: see handlers' processed check
        return {row.reference for row in rows if row.status == MET and row.recipients_json == "[]"}

    def referral_arrived(self, session: Session, referral: PpnSubmitted) -> list[PlannedDelivery]:
        """A referral whose outcome came first: its grace deadline is met (resolved, if it had already alerted)."""
        return self._meet(session, "unmatched_referral_outcome", referral.ppn_reference, self.clock(), str(referral.event_id))

    def outcomes_received_before(self, session: Session, event: Envelope) -> list[str]:
        """Ids of referral outcomes that arrived before this referral (so its referrer was not told yet)."""
        if not isinstance(event, PpnSubmitted):
            return []
        deadline = session.get(Deadline, f"referral_outcome|{event.ppn_reference}")
        if deadline is None or deadline.status != MET or deadline.recipients_json != "[]":
            return []
        met_by = json.loads(deadline.evidence_json).get("met_by")
        return [met_by] if met_by else []

    # -- recipients and escalations ------------------------------------------------------------------
    def recipients(self, rule: str, context: RoutingContext, **known: str) -> list[str]:
        """Who ``rule`` alerts, by the roles the rules data gives it; ``known`` names the event's own roles
        (``referrer``, ``school_local_authority``)."""
        found: list[str] = []
        for role in self.rules.alert_roles[rule]:
            code = context.area_recipient(role.removeprefix("area_")) if role.startswith("area_") else known.get(role)
            if code and code not in found:
                found.append(code)
        return found

    def _escalate(self, rule: str, key: str, context: RoutingContext, subject: str, reference: str,
                  evidence: dict) -> list[PlannedDelivery]:
        """An immediate escalation (no deadline): one alert per recipient of ``rule``."""
        recipients = self.recipients(rule, context)
        return [self._alert(rule, key if len(recipients) == 1 else f"{key}|{recipient}", recipient, subject, reference,
                            None, OPEN, evidence) for recipient in recipients]

    # -- deadlines --------------------------------------------------------------------------------
    def open_deadline(self, session: Session, rule: str, reference: str, subject: str | None, due: datetime,
                      recipients: list[str], evidence: dict) -> None:
        """Open a deadline for another module's rule (e.g. an Encompass acknowledgement)."""
        self._open(session, rule, reference, subject, due, recipients, evidence)

    def meet_deadline(self, session: Session, rule: str, reference: str, at: datetime, by: str) -> list[PlannedDelivery]:
        """Meet a deadline; returns the resolving alerts when it had already been breached."""
        return self._meet(session, rule, reference, at, by)

    def _open(self, session: Session, rule: str, reference: str, subject: str | None, due: datetime, recipients: list[str],
              evidence: dict, status: str = OPEN) -> None:
        """Open a deadline unless one exists (an awaited event that came first leaves it met)."""
        stage_insert(session, Deadline, {
            "deadline_id": f"{rule}|{reference}", "rule": rule, "subject_key": subject, "reference": reference,
            "due_at": due, "opened_at": self.clock(), "status": status,
            "recipients_json": json.dumps(recipients), "evidence_json": json.dumps(evidence, sort_keys=True),
            "met_at": None, "breached_at": None}, ["deadline_id"], on_conflict=_opened_after_met)

    def _meet(self, session: Session, rule: str, reference: str, at: datetime, by_event: str) -> list[PlannedDelivery]:
        # Locked (PostgreSQL): the deadline timer's breach waits, so a deadline is met or breached, never both.
        deadline = session.get(Deadline, f"{rule}|{reference}", with_for_update=True)
        if deadline is None:
            insert_ignoring_duplicates(session, Deadline, [{
                "deadline_id": f"{rule}|{reference}", "rule": rule, "subject_key": None, "reference": reference,
                "due_at": at, "opened_at": self.clock(), "status": MET, "recipients_json": "[]",
                "evidence_json": json.dumps({"met_by": by_event}), "met_at": at, "breached_at": None}], ["deadline_id"])
            return []
        if deadline.status == OPEN:
            deadline.status, deadline.met_at = MET, at
            session.add(deadline)
            return []
        if deadline.status == BREACHED:
            deadline.status, deadline.met_at = RESOLVED, at
            session.add(deadline)
            evidence = {**json.loads(deadline.evidence_json), "resolved_by_event": by_event, "resolved_at": at.isoformat()}
            return [self._alert(rule, f"{deadline.deadline_id}|resolved|{recipient}", recipient, deadline.subject_key,
                                reference, _aware(deadline.due_at), RESOLVED, evidence)
                    for recipient in json.loads(deadline.recipients_json)]
        return []

    def fire_due(self, session: Session, now: datetime, limit: int = 200) -> tuple[list[PlannedDelivery], bool]:
        """Breach up to ``limit`` open deadlines whose time has passed; one alert per recipient, once.
        Returns the alerts and whether more deadlines may be due."""
        out: list[PlannedDelivery] = []
        due = session.exec(select(Deadline).where(Deadline.status == OPEN, Deadline.due_at <= now)
                           .order_by(Deadline.due_at).limit(limit)).all()  # type: ignore[arg-type]
        for deadline in due:
            claimed = session.exec(update(Deadline).where(  # type: ignore[call-overload]
                Deadline.deadline_id == deadline.deadline_id, Deadline.status == OPEN).values(status=BREACHED, breached_at=now))
            if claimed.rowcount != 1:
                continue  # another worker breached it first
            if deadline.rule == "unborn_flag_lapse":
                out += self._lapse_unborn_flag(session, deadline)
                continue
            for recipient in json.loads(deadline.recipients_json):
                out.append(self._alert(deadline.rule, f"{deadline.deadline_id}|breached|{recipient}", recipient,
                                       deadline.subject_key, deadline.reference, _aware(deadline.due_at), BREACHED,
                                       json.loads(deadline.evidence_json)))
        return out, len(due) == limit

    def _alert(self, rule: str, key: str, recipient: str, subject: str | None, reference: str, due: datetime | None,
               status: str, evidence: dict) -> PlannedDelivery:
        title = self.rules.titles.get(rule, rule) + (" (now resolved)" if status == RESOLVED else "")
        return self.policy.plan_operational("deadline_alert", key, {
            "alert": title, "watch_rule": rule, "status": status, "subject_key": subject, "master_person_id": None,
            "reference": reference, "due_at": due.isoformat() if due else None, "evidence": evidence,
            "event_type": f"watch.{rule}"}, recipient=recipient, subject_key=subject)


def _full_windows(items: list[Any], time_of: Callable[[Any], datetime], new: datetime | None, window: timedelta,
                  count: int) -> list[tuple[Any, list[Any]]]:
    """(last, items in its window) for every item (time-ordered) whose window ``new`` falls in (every item when
    ``new`` is None) and holds ``count`` or more: judging all of them, not only the newest, is what makes the Nth
    in event time escalate whatever the arrival order (keyed by that Nth, the alert is the same alert whichever
    report arrives last)."""
    found = []
    for last in items:
        if new is None or new <= time_of(last) <= new + window:
            recent = [item for item in items if time_of(last) - window <= time_of(item) <= time_of(last)]
            if len(recent) >= count:
                found.append((last, recent))
    return found


def _opened_after_met(session: Session, row: dict[str, Any]) -> None:
    """A deadline opened when it exists already: if it was met before it was opened (the awaited
    event came first), keep it met, but record what it was."""
    existing = session.get(Deadline, row["deadline_id"])
    if existing is not None and existing.status == MET and existing.recipients_json == "[]":
        existing.subject_key, existing.due_at = row["subject_key"], row["due_at"]
        existing.recipients_json, existing.evidence_json = row["recipients_json"], row["evidence_json"]
        session.add(existing)
