"""The sharing policy engine: which recipients receive which fields of an event.

Inputs: the policy file (TOML, see ``sharing_policy.toml``), a validated event and a
``RoutingContext`` (area recipients and state lookups). Outputs: ``PlannedDelivery`` objects
carrying the rule id, policy version, recipient and exactly the allowed content; an operational
delivery also carries ``notice``, the text a person reads, rendered in the recipient's language
from the templates (``streams/notices/``) out of that allowed content only. Guarantee: content is
built from allow-lists only (never by removing fields), and the delivery id is a deterministic
function of event, rule, recipient and child, so replays plan the same ids.
"""

from __future__ import annotations

import hashlib
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from schemas import Envelope, PersonRef
from schemas.events import PpnSubmitted
from sinks.contract import SINKS, ContentShape, PlannedDelivery
from streams.identity.keys import children_of, person_key
from streams.notices.languages import RecipientLanguages
from streams.notices.render import Notices

RULE_KINDS = ("encompass_notice", "reconciliation_report")
# Operational deliveries that a late register change or an un-merge may show were not due (key-worker
# notices of incidents; repeat escalations come as deadline alerts).
REJUDGED_OPERATIONS = ("registered_child_incident", "deadline_alert")
"""Rules the code must recognise are marked with one of these ``kind``s in the policy data."""
DELIVERY_NAMESPACE = uuid.UUID("6f1c2f7e-3d7a-4c55-9a53-0b7f3c1d2e10")
VOICE_LINE_MAX = 280
NOTICE_FIELD = "notice"  # the rendered text of an operational delivery: {"language", "title", "text"}


class PolicyError(ValueError):
    """The policy file is malformed or names something the engine does not know."""


class RoutingContext(Protocol):
    """What the engine needs to know beyond the event itself."""

    def area_recipient(self, which: str) -> str: ...
    def register_change_is_current(self, event: Envelope) -> bool: ...
    def flag_for(self, child: PersonRef) -> dict[str, Any] | None: ...
    def child_keys(self, child: PersonRef) -> set[str]: ...
    def referrer_of(self, reference: str) -> tuple[str, str] | None: ...
    def corrections(self, event: Envelope) -> list[Any]: ...
    def school_for(self, child: PersonRef) -> dict[str, Any] | None: ...
    def encompass_settings(self) -> tuple[int, tuple[str, ...]]: ...
    def reconciliation_report(self, event: Envelope) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class View:
    name: str
    event_fields: tuple[str, ...] = ()
    child_fields: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()

    def allowed_keys(self) -> frozenset[str]:
        keys = set(self.event_fields) | set(self.derived)
        if self.child_fields:
            keys.add("child")
        return frozenset(keys)


FULL_VIEW = View("full")


@dataclass(frozen=True)
class Rule:
    id: str
    event_types: tuple[str, ...]
    sink: str
    recipient: str
    per: str
    view: View
    when: tuple[str, ...] = ()
    kind: str | None = None


@dataclass(frozen=True)
class OperationsRule:
    """A rule for an operational alert: fixed sink and recipient, an allow-list of fields."""

    id: str
    sink: str
    recipient: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    version: str
    rules: tuple[Rule, ...]
    digest: str
    operations: dict[str, OperationsRule] = field(default_factory=dict, hash=False)
    notices: Notices = field(default_factory=Notices.load, hash=False, compare=False)
    languages: RecipientLanguages = field(default_factory=RecipientLanguages, hash=False, compare=False)

    @classmethod
    def load(cls, path: Path, notices: Notices | None = None, languages: RecipientLanguages | None = None) -> Policy:
        """Read and check a policy file; raises ``PolicyError`` naming the rule and the problem. Every operation must
        have a template in ``notices`` (the packaged ones unless given), so no notice a person reads is untranslated."""
        notices = notices or Notices.load()
        text = path.read_bytes()
        try:
            data = tomllib.loads(text.decode())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{path}: not valid TOML: {exc}") from exc
        version = data.get("version")
        if not isinstance(version, str) or not version:
            raise PolicyError(f"{path}: 'version' must be a non-empty string")
        views = {"full": FULL_VIEW}
        for name, spec in data.get("views", {}).items():
            views[name] = View(name, tuple(spec.get("event_fields", ())), tuple(spec.get("child_fields", ())),
                               tuple(spec.get("derived", ())))
            unknown = set(views[name].derived) - set(DERIVED)
            if unknown:
                raise PolicyError(f"view {name}: unknown derived field(s) {sorted(unknown)}")
        rules, seen = [], set()
        for spec in data.get("rules", []):
            rules.append(_rule_from(spec, views, seen))
        operations = {}
        for name, spec in data.get("operations", {}).items():
            if spec.get("sink") not in SINKS or not spec.get("id") or not spec.get("fields"):
                raise PolicyError(f"operations.{name}: needs id, a known sink and fields")
            operations[name] = OperationsRule(spec["id"], spec["sink"], spec.get("recipient", "operators"), tuple(spec["fields"]))
        if "dead_letter_alert" not in operations:
            raise PolicyError("the policy must define [operations.dead_letter_alert]")
        rejudged_sinks = {rule.sink for rule in rules if _flag_dependent(rule)}
        rejudged_sinks |= {operations[name].sink for name in REJUDGED_OPERATIONS if name in operations}
        missing = sorted(f"[operations.recall_{sink}]" for sink in rejudged_sinks if f"recall_{sink}" not in operations)
        if missing or "delivery_recalled" not in operations:
            raise PolicyError("a re-judged delivery may have to be recalled: the policy must define "
                              + ", ".join(missing + ([] if "delivery_recalled" in operations
                                                     else ["[operations.delivery_recalled]"])))
        if untemplated := sorted(set(operations) - set(notices.templates)):
            raise PolicyError(f"no Welsh/English template for operation(s) {', '.join(untemplated)} "
                              "(streams/notices/templates.toml)")
        return cls(version=version, rules=tuple(rules), digest=hashlib.sha256(text).hexdigest()[:16], operations=operations,
                   notices=notices, languages=languages or RecipientLanguages.load())

    def rule_ids(self, kind: str) -> frozenset[str]:
        """The ids of the rules marked ``kind`` (e.g. every rule that sends an Operation Encompass notice)."""
        if kind not in RULE_KINDS:
            raise PolicyError(f"unknown rule kind {kind!r}")
        return frozenset(rule.id for rule in self.rules if rule.kind == kind)

    @property
    def encompass_notice_rules(self) -> frozenset[str]:
        return self.rule_ids("encompass_notice")

    @property
    def reconciliation_report_rules(self) -> frozenset[str]:
        return self.rule_ids("reconciliation_report")

    @property
    def flag_dependent_rules(self) -> frozenset[str]:
        """Rules whose outcome depends on whether the child was on a register (re-evaluated when a late
        registration or a merge shows an earlier event was about a flagged child)."""
        return frozenset(rule.id for rule in self.rules if _flag_dependent(rule))

    def recall_rule_ids(self) -> frozenset[str]:
        """The ids of recall notices and of the operators' recall alerts (see ``streams/pipeline/rejudge.py``)."""
        return frozenset(op.id for name, op in self.operations.items() if name.startswith("recall_")
                         or name == "delivery_recalled")

    def rules_for(self, event_type: str) -> list[Rule]:
        return [rule for rule in self.rules if event_type in rule.event_types]

    def allowed_keys(self, sink: str) -> frozenset[str] | None:
        """Every content key some rule may send to ``sink``; ``None`` when a rule sends the full event."""
        keys: set[str] = set()
        for rule in self.rules:
            if rule.sink == sink:
                if rule.view is FULL_VIEW:
                    return None
                keys |= rule.view.allowed_keys()
        for operation in self.operations.values():
            if operation.sink == sink:
                keys |= {*operation.fields, NOTICE_FIELD}
        return frozenset(keys)

    def content_shapes(self, sink: str) -> dict[str, ContentShape]:
        """What each rule and operation that delivers to ``sink`` may send (its own view, the child's fields)."""
        shapes: dict[str, ContentShape] = {}
        for rule in self.rules:
            if rule.sink == sink:
                view = rule.view
                shapes[rule.id] = ContentShape(None) if view is FULL_VIEW else ContentShape(
                    view.allowed_keys(), {"child": frozenset(view.child_fields)} if view.child_fields else {})
        for operation in self.operations.values():
            if operation.sink == sink:
                shapes[operation.id] = ContentShape(frozenset({*operation.fields, NOTICE_FIELD}))
        return shapes

    def plan_operational(self, name: str, key: str, values: dict[str, Any], recipient: str | None = None,
                         subject_key: str | None = None) -> PlannedDelivery:
        """A delivery for operational rule ``name``; ``key`` makes it unique and idempotent."""
        rule = self.operations[name]
        content = {k: values[k] for k in rule.fields if values.get(k) is not None}
        recipient = recipient or rule.recipient
        content[NOTICE_FIELD] = self.notices.render(name, self.languages.of(recipient), content)
        return PlannedDelivery(
            delivery_id=str(uuid.uuid5(DELIVERY_NAMESPACE, f"{rule.id}|{key}")), sink=rule.sink,
            recipient=recipient,
            rule=rule.id, policy_version=self.version, source_event_id=str(values.get("event_id") or ""),
            source_event_type=str(values.get("event_type") or ""), subject_key=subject_key, content=content)

    def plan(self, event: Envelope, context: RoutingContext) -> list[PlannedDelivery]:
        """Every delivery this policy allows for ``event``."""
        planned: list[PlannedDelivery] = []
        event_data = event.model_dump(mode="json")
        for rule in self.rules_for(event.event_type):  # type: ignore[attr-defined]
            for child in self._subjects(rule, event, context):
                if not all(CONDITIONS[name](event, child, context) for name in rule.when):
                    continue
                recipient = RECIPIENTS[rule.recipient](event, child, context)
                if not recipient:
                    continue
                content = event_data if rule.view is FULL_VIEW else _project(rule.view, event, event_data, child, context)
                subject = person_key(child, event.source.organisation_code) if child is not None else None
                planned.append(self._delivery(rule, event, recipient, subject, content, child))
        return planned

    @staticmethod
    def _subjects(rule: Rule, event: Envelope, context: RoutingContext) -> list[PersonRef | None]:
        if rule.per == "child":
            return list(children_of(event))
        if rule.per == "correction":
            return [correction.child for correction in context.corrections(event)]
        return [None]

    def _delivery(self, rule: Rule, event: Envelope, recipient: str, subject: str | None, content: dict,
                  child: PersonRef | None = None) -> PlannedDelivery:
        basis = f"{event.event_id}|{rule.id}|{recipient}|{subject or ''}"
        incident = getattr(event, "incident_reference", None)
        if rule.kind == "encompass_notice" and incident and child is not None:
            # One notice per incident, child and school, whichever of the police force's reports of the incident
            # (a domestic-abuse notification, a PPN) arrives first: both name the child by the force's own id.
            basis = f"encompass|{event.source.organisation_code}|{incident}|{recipient}|{child.source_person_id}"
        return PlannedDelivery(
            delivery_id=str(uuid.uuid5(DELIVERY_NAMESPACE, basis)), sink=rule.sink, recipient=recipient, rule=rule.id,
            policy_version=self.version, source_event_id=str(event.event_id),
            source_event_type=event.event_type, subject_key=subject, content=content)  # type: ignore[attr-defined]


def _flag_dependent(rule: Rule) -> bool:
    return "child_flagged" in rule.when or rule.recipient == "register_local_authority"


def _rule_from(spec: dict, views: dict[str, View], seen: set[str]) -> Rule:
    rule_id = spec.get("id")
    if not isinstance(rule_id, str) or not rule_id or rule_id in seen:
        raise PolicyError(f"rule {rule_id!r}: every rule needs a unique string id")
    seen.add(rule_id)
    types = spec.get("event_type")
    types = (types,) if isinstance(types, str) else tuple(types or ())
    from schemas import EVENT_TYPES

    problems = [f"unknown event_type {t!r}" for t in types if t not in EVENT_TYPES]
    if not types:
        problems.append("no event_type")
    if spec.get("sink") not in SINKS:
        problems.append(f"unknown sink {spec.get('sink')!r}")
    if spec.get("recipient") not in RECIPIENTS:
        problems.append(f"unknown recipient {spec.get('recipient')!r}")
    if spec.get("per") not in ("event", "child", "correction"):
        problems.append("per must be 'event', 'child' or 'correction'")
    if spec.get("view") not in views:
        problems.append(f"unknown view {spec.get('view')!r}")
    problems += [f"unknown condition {c!r}" for c in spec.get("when", ()) if c not in CONDITIONS]
    if spec.get("kind") is not None and spec["kind"] not in RULE_KINDS:
        problems.append(f"unknown kind {spec['kind']!r} (known: {', '.join(RULE_KINDS)})")
    if problems:
        raise PolicyError(f"rule {rule_id}: " + "; ".join(problems))
    return Rule(rule_id, types, spec["sink"], spec["recipient"], spec["per"], views[spec["view"]], tuple(spec.get("when", ())),
                spec.get("kind"))


def _project(view: View, event: Envelope, event_data: dict, child: PersonRef | None, context: RoutingContext) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for name in view.event_fields:
        if event_data.get(name) is not None:
            content[name] = event_data[name]
    if view.child_fields and child is not None:
        child_data = child.model_dump(mode="json")
        content["child"] = {name: child_data[name] for name in view.child_fields
                            if child_data.get(name) not in (None, [], "")}
    for name in view.derived:
        value = DERIVED[name](event, child, context)
        if value is not None:
            content[name] = value
    return content


# --- conditions, recipients and derived values named by the policy file ------------------------

def _age(event: Envelope, child: PersonRef | None) -> int | None:
    return None if child is None else child.age_on(event.occurred_at.date())


def _has_school(child: PersonRef | None, context: RoutingContext) -> bool:
    return child is not None and context.school_for(child) is not None


def _encompass_age(event: Envelope, child: PersonRef | None, context: RoutingContext) -> bool:
    """Of early-years or school age (unknown date of birth: assumed to be, so a school is not missed)."""
    age = _age(event, child)
    return age is None or context.encompass_settings()[0] <= age < 18  # 18 or over: an adult, not an Encompass child


def _notifiable_to_school(event: Envelope, child: PersonRef | None, context: RoutingContext) -> bool:
    return _has_school(child, context) and _encompass_age(event, child, context)


def _referrer_agency(event: Envelope, context: RoutingContext) -> str | None:
    found = context.referrer_of(getattr(event, "referral_reference", ""))
    return found[0] if found else None


CONDITIONS: dict[str, Callable[[Envelope, PersonRef | None, RoutingContext], bool]] = {
    "child_has_school": lambda e, c, x: _has_school(c, x),
    "child_without_school": lambda e, c, x: c is not None and not _has_school(c, x),
    "child_of_encompass_age": _encompass_age,
    "child_not_notifiable_to_school": lambda e, c, x: c is not None and not _notifiable_to_school(e, c, x),
    "ppn_is_domestic_abuse": lambda e, c, x: getattr(e, "category", None) is not None and e.category.value == "domestic_abuse",
    "ppn_in_wider_offences": lambda e, c, x: getattr(e, "category", None) is not None
    and e.category.value in x.encompass_settings()[1],
    "child_under_5": lambda e, c, x: (a := _age(e, c)) is not None and a < 5,
    "child_of_school_age": lambda e, c, x: (a := _age(e, c)) is not None and 4 <= a <= 16,
    "source_is_care_provider": lambda e, c, x: e.source.agency.value == "care_provider",
    "source_is_education": lambda e, c, x: e.source.agency.value == "education",
    "register_change_is_current": lambda e, c, x: x.register_change_is_current(e),
    "child_flagged": lambda e, c, x: c is not None and x.flag_for(c) is not None,
    "referrer_is_police": lambda e, c, x: _referrer_agency(e, x) == "police",
    "referrer_is_health": lambda e, c, x: _referrer_agency(e, x) == "health",
    "referrer_is_education": lambda e, c, x: _referrer_agency(e, x) == "education",
    "child_without_nhs_number": lambda e, c, x: c is not None and not c.nhs_number,
}


def _school_code(event: Envelope, child: PersonRef | None, context: RoutingContext) -> str | None:
    school = context.school_for(child) if child is not None else None
    return school["code"] if school else None


def _register_authority(event: Envelope, child: PersonRef | None, context: RoutingContext) -> str | None:
    flag = context.flag_for(child) if child is not None else None
    return flag["local_authority"]["code"] if flag else None


def _referrer_code(event: Envelope, child: PersonRef | None, context: RoutingContext) -> str | None:
    found = context.referrer_of(getattr(event, "referral_reference", ""))
    return found[1] if found else None


def _area_local_authority(event: Envelope, child: PersonRef | None, context: RoutingContext) -> str:
    authority = getattr(event, "local_authority", None)
    return authority.code if authority is not None else context.area_recipient("local_authority")


RECIPIENTS: dict[str, Callable[[Envelope, PersonRef | None, RoutingContext], str | None]] = {
    "area_local_authority": _area_local_authority,
    "area_health_board": lambda e, c, x: x.area_recipient("health_board"),
    "area_police_force": lambda e, c, x: x.area_recipient("police_force"),
    "child_school": _school_code,
    "register_local_authority": _register_authority,
    "referrer": _referrer_code,
}


def _police_reference(event: Envelope, child: PersonRef | None, context: RoutingContext) -> str | None:
    if isinstance(event, PpnSubmitted):
        return event.incident_reference or event.ppn_reference
    return getattr(event, "incident_reference", None) or event.source.reference


def _voice_line(event: Envelope, child: PersonRef | None, context: RoutingContext) -> str | None:
    voice = getattr(event, "voice_of_child", None)
    if voice is None:
        return None
    text = voice.words or voice.appearance or voice.activity or voice.relationships or voice.environment
    if not text:
        return None
    line = " ".join(text.split())
    return line if len(line) <= VOICE_LINE_MAX else line[: VOICE_LINE_MAX - 1] + "…"


def _police_contact(event: Envelope, child: PersonRef | None, context: RoutingContext) -> dict[str, Any]:
    contact: dict[str, Any] = {"organisation": event.source.organisation, "organisation_code": event.source.organisation_code}
    officer = getattr(event, "officer", None)
    if officer is not None:
        contact.update({k: v for k, v in officer.model_dump(mode="json").items() if v is not None})
    return contact


def _correction(event: Envelope, child: PersonRef | None, context: RoutingContext) -> Any:
    return next((c for c in context.corrections(event) if c.child is child), None)


def _register_action(event: Envelope, child: PersonRef | None, context: RoutingContext) -> str | None:
    if event.event_type == "cpr.snapshot":  # type: ignore[attr-defined]
        correction = _correction(event, child, context)
        return correction.action if correction else None
    return {"cpr.registered": "set", "cpr.amended": "update", "cpr.deregistered": "remove"}[event.event_type]  # type: ignore[attr-defined]


def _corrected_flag(event: Envelope, child: PersonRef | None, context: RoutingContext) -> dict | None:
    correction = _correction(event, child, context)
    return correction.flag if correction else None


def _corrected_marker(event: Envelope, child: PersonRef | None, context: RoutingContext) -> dict | None:
    flag = _corrected_flag(event, child, context)
    return {k: flag[k] for k in ("local_authority", "categories", "registered_on") if k in flag} if flag else None


def _difference(event: Envelope, child: PersonRef | None, context: RoutingContext) -> str | None:
    correction = _correction(event, child, context)
    return correction.difference if correction else None


def _register_key_worker(event: Envelope, child: PersonRef | None, context: RoutingContext) -> dict | None:
    flag = context.flag_for(child) if child is not None else None
    if not flag:
        return None
    return {"local_authority": flag.get("local_authority"), "key_worker": flag.get("key_worker"),
            "plan_reference": flag.get("plan_reference")}


def _why_not_school(event: Envelope, child: PersonRef | None, context: RoutingContext) -> str:
    if child is not None and child.home_educated:
        return "home_educated"
    if _has_school(child, context) and not _encompass_age(event, child, context):
        return "below_early_years_age"
    return "no_known_school"


DERIVED: dict[str, Callable[[Envelope, PersonRef | None, RoutingContext], Any]] = {
    "police_reference": _police_reference,
    "voice_of_child_line": _voice_line,
    "police_contact": _police_contact,
    "register_action": _register_action,
    "register_key_worker": _register_key_worker,
    "why_not_school": _why_not_school,
    "school": lambda e, c, x: x.school_for(c) if c is not None else None,
    "flag": _corrected_flag,
    "marker": _corrected_marker,
    "reconciliation_difference": _difference,
    "reconciliation_report": lambda e, c, x: x.reconciliation_report(e),
    "missing_nhs_number_alert": lambda e, c, x: ("register entry without an NHS number: health services cannot see this "
                                                 "flag until the local authority records the child's NHS number"),
}

__all__ = ["Policy", "PolicyError", "PlannedDelivery", "RoutingContext", "SINKS"]
