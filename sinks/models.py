"""Table models of the SQL store (kept apart from the wire models in ``schemas``).

Inputs: none. Outputs: SQLModel tables. Guarantee: every table a redelivery can touch has a
natural unique key (event id, delivery id, dead-letter id, audit id), so writes are
idempotent upserts and nothing is double-counted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, LargeBinary, Text, text
from sqlmodel import Field, SQLModel

INTAKE_ACCEPTED = "accepted"
INTAKE_PROCESSED = "processed"


class IntakeEvent(SQLModel, table=True):
    """Every accepted event, recorded on intake before routing; replayed until processed."""

    __tablename__ = "intake_event"

    event_id: str = Field(primary_key=True, max_length=36)
    event_type: str = Field(index=True, max_length=64)
    topic: str = Field(max_length=200)
    partition: int
    offset: int
    key: str | None = Field(default=None, max_length=200)
    content_hash: str = Field(max_length=64)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    occurred_at: datetime
    accepted_at: datetime
    status: str = Field(default=INTAKE_ACCEPTED, index=True, max_length=16)
    processed_at: datetime | None = None
    # Data-quality facts, counted for the dashboard (identifiers and counts only).
    source_agency: str | None = Field(default=None, max_length=40)
    voice_recorded: bool | None = None  # PPNs and domestic-abuse reports: was the child's voice written down
    persons: int = 0
    persons_with_language: int = 0


class DeadLetterRecord(SQLModel, table=True):
    """An input that was refused, kept with its original bytes so it can be fixed and replayed."""

    __tablename__ = "dead_letter"

    dead_letter_id: str = Field(primary_key=True, max_length=64)
    topic: str = Field(index=True, max_length=200)
    partition: int
    offset: int
    event_id: str | None = Field(default=None, max_length=64)
    event_type: str | None = Field(default=None, max_length=64)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    field_path: str | None = Field(default=None, max_length=500)
    errors_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    original: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    parked_at: datetime
    replayed_at: datetime | None = None


class DeliveryRecord(SQLModel, table=True):
    """What one recipient received: the outbox and the permanent record of every disclosure."""

    __tablename__ = "delivery"

    delivery_id: str = Field(primary_key=True, max_length=36)
    sink: str = Field(index=True, max_length=40)
    recipient: str = Field(index=True, max_length=80)
    rule: str = Field(max_length=120)
    policy_version: str = Field(max_length=40)
    source_event_id: str = Field(index=True, max_length=36)
    source_event_type: str = Field(max_length=64)
    subject_key: str | None = Field(default=None, index=True, max_length=200)
    master_person_id: str | None = Field(default=None, index=True, max_length=36)
    delivered_at: datetime
    content_json: str = Field(sa_column=Column(Text, nullable=False))
    relayed_at: datetime | None = None  # published to its outbound topic (streams/pipeline/relay.py)

    # The relay's queue: only deliveries not yet relayed are in this index, so finding them stays cheap.
    __table_args__ = (Index("ix_delivery_unrelayed", "delivered_at", sqlite_where=text("relayed_at IS NULL"),
                            postgresql_where=text("relayed_at IS NULL")),)


class RelayTopic(SQLModel, table=True):
    """How far the relay knows each outbound topic: past these offsets, a restarted relay reads the topic back
    to find what it published before it died."""

    __tablename__ = "relay_topic"

    topic: str = Field(primary_key=True, max_length=249)
    offsets_json: str = Field(sa_column=Column(Text, nullable=False))  # {"partition": next offset}
    in_flight: bool = False  # a publish to it began and its deliveries are not marked relayed yet


class WebhookDelivery(SQLModel, table=True):
    """One delivery owed to an organisation's webhook: attempts, back-off and the receiver's acknowledgement."""

    __tablename__ = "webhook_delivery"

    delivery_id: str = Field(primary_key=True, max_length=36)
    organisation_code: str = Field(index=True, max_length=80)
    status: str = Field(default="pending", index=True, max_length=16)  # pending | acknowledged | failed
    attempts: int = 0
    next_attempt_at: datetime
    acknowledged_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=300)


class AuditRecord(SQLModel, table=True):
    """Append-only: who received what about whom, under which rule, when."""

    __tablename__ = "audit_record"

    sequence: int | None = Field(default=None, primary_key=True)
    audit_id: str = Field(unique=True, max_length=80)
    recorded_at: datetime
    action: str = Field(max_length=40)
    actor: str = Field(max_length=80)
    sink: str | None = Field(default=None, max_length=40)
    recipient: str | None = Field(default=None, max_length=80)
    rule: str | None = Field(default=None, max_length=120)
    policy_version: str | None = Field(default=None, max_length=40)
    source_event_id: str | None = Field(default=None, max_length=36)
    subject_key: str | None = Field(default=None, max_length=200)
    master_person_id: str | None = Field(default=None, max_length=36)
    delivery_id: str | None = Field(default=None, max_length=36)
    detail: str | None = Field(default=None, sa_column=Column(Text))
    # The hash chain (sinks/audit_chain.py): set when the record is sealed, seconds after it is written.
    previous_hash: str | None = Field(default=None, max_length=64)
    record_hash: str | None = Field(default=None, index=True, max_length=64)


class AuditChainHead(SQLModel, table=True):
    """The newest sealed audit record; its single row is also the lock that serialises sealing."""

    __tablename__ = "audit_chain_head"

    id: int = Field(default=1, primary_key=True)
    last_sequence: int = 0
    last_hash: str = Field(default="0" * 64, max_length=64)


class RegisterFlag(SQLModel, table=True):
    """The current child protection register state of one child, as the latest event left it."""

    __tablename__ = "register_flag"

    child_key: str = Field(primary_key=True, max_length=200)
    nhs_number: str | None = Field(default=None, index=True, max_length=10)
    local_authority_code: str = Field(max_length=40)
    producer_code: str | None = Field(default=None, max_length=40)  # the organisation whose signed events set it
    active: bool
    event_at: datetime
    sequence: int | None = None
    event_id: str = Field(max_length=36)
    details_json: str = Field(sa_column=Column(Text, nullable=False))
    child_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class MissingEpisode(SQLModel, table=True):
    """One missing episode of one child: reported, returned, and what was linked to it."""

    __tablename__ = "missing_episode"

    episode_key: str = Field(primary_key=True, max_length=320)
    child_key: str = Field(index=True, max_length=200)
    episode_reference: str = Field(max_length=100)
    reported_at: datetime | None = None
    returned_at: datetime | None = None
    looked_after: bool = False
    profile_reference: str | None = Field(default=None, max_length=100)
    ppn_reference: str | None = Field(default=None, max_length=100)


class ChildIncident(SQLModel, table=True):
    """A police notice about one child, kept to count repeat concerns."""

    __tablename__ = "child_incident"

    incident_key: str = Field(primary_key=True, max_length=260)
    child_key: str = Field(index=True, max_length=200)
    source_event_id: str = Field(max_length=36)
    kind: str = Field(max_length=40)
    category: str | None = Field(default=None, max_length=40)
    grade: str | None = Field(default=None, max_length=20)
    reference: str | None = Field(default=None, max_length=100)
    occurred_at: datetime


class Deadline(SQLModel, table=True):
    """One watched deadline: opened by an event, met by another, breached when the clock passes it."""

    __tablename__ = "deadline"
    # The timer's "open and due" scan: by status alone it would read every open deadline each tick.
    __table_args__ = (Index("ix_deadline_status_due_at", "status", "due_at"),)

    deadline_id: str = Field(primary_key=True, max_length=400)
    rule: str = Field(index=True, max_length=60)
    subject_key: str | None = Field(default=None, index=True, max_length=200)
    reference: str = Field(index=True, max_length=100)
    due_at: datetime = Field(index=True)
    opened_at: datetime
    status: str = Field(default="open", index=True, max_length=16)  # open | met | breached | resolved
    recipients_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    evidence_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    met_at: datetime | None = None
    breached_at: datetime | None = None


class School(SQLModel, table=True):
    """The education sink's directory: a school or early-years setting and its designated safeguarding lead."""

    __tablename__ = "school"

    school_code: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=500)
    local_authority_code: str | None = Field(default=None, max_length=40)
    dsl_email: str | None = Field(default=None, max_length=320)
    deputy_dsl_email: str | None = Field(default=None, max_length=320)  # used when the lead's address fails or is absent
    language: str | None = Field(default=None, max_length=5)  # cy, en or cy+en; None: the deployment's default


class SchoolRollEntry(SQLModel, table=True):
    """Which school a pupil is on the roll of, by strong identifier only (UPN or NHS number)."""

    __tablename__ = "school_roll"

    roll_id: str = Field(primary_key=True, max_length=120)
    school_code: str = Field(max_length=40)
    upn: str | None = Field(default=None, index=True, max_length=13)
    nhs_number: str | None = Field(default=None, index=True, max_length=10)


class EncompassNotice(SQLModel, table=True):
    """One Operation Encompass notice to one school: its deadline, e-mail delivery and acknowledgement."""

    __tablename__ = "encompass_notice"

    notice_id: str = Field(primary_key=True, max_length=36)  # the education delivery's id
    school_code: str = Field(index=True, max_length=40)
    subject_key: str | None = Field(default=None, max_length=200)
    police_reference: str | None = Field(default=None, max_length=100)
    attended_at: datetime
    notify_by: datetime
    escalate_at: datetime
    created_at: datetime
    email_status: str = Field(default="pending", index=True, max_length=16)  # pending|sending|sent|failed|no_address
    email_attempts: int = 0
    email_sent_to: str | None = Field(default=None, max_length=16)  # "lead" or "deputy": which address took it
    email_next_attempt_at: datetime | None = None
    email_sent_at: datetime | None = None
    email_last_error: str | None = Field(default=None, max_length=500)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = Field(default=None, max_length=80)


class CareAccess(SQLModel, table=True):
    """An unscheduled-care attendance (or a health lookup that notified) of a flagged child; last 25 kept."""

    __tablename__ = "care_access"

    access_id: str = Field(primary_key=True, max_length=120)
    nhs_number: str = Field(index=True, max_length=10)
    accessed_at: datetime
    site_json: str = Field(sa_column=Column(Text, nullable=False))
    source_event_id: str | None = Field(default=None, max_length=36)


class ApiToken(SQLModel, table=True):
    """A bearer token for one organisation and role; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    token_id: str = Field(primary_key=True, max_length=16)
    token_sha256: str = Field(unique=True, max_length=64)
    organisation_code: str = Field(index=True, max_length=40)
    role: str = Field(max_length=40)
    issued_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = None  # None: a configured token's revocation row, or a token issued before expiry existed


class ReferralRecord(SQLModel, table=True):
    """A referral (a PPN or duty-to-report) awaiting its outcome: who made it."""

    __tablename__ = "referral"

    referral_reference: str = Field(primary_key=True, max_length=100)
    referrer_agency: str = Field(max_length=40)
    referrer_code: str = Field(max_length=40)
    source_event_id: str = Field(max_length=36)
    referred_at: datetime


class IdentitySequence(SQLModel, table=True):
    """One row: the last sequence number of the identity log. Updating it first in a unit of work
    takes the lock that serialises identity resolution across workers (a row lock on PostgreSQL,
    the write lock on SQLite), so two workers never create two masters for one new child."""

    __tablename__ = "identity_sequence"

    id: int = Field(primary_key=True)
    last_seq: int = 0
    indexed_seq: int = 0  # the log is in identity_member / identity_block up to here (an older store: 0)


class IdentityRecord(SQLModel, table=True):
    """A person as one event named them (cleaned for matching), and the person the resolver gave it.
    Append-only; with ``identity_change`` it is the log every worker replays into its index."""

    __tablename__ = "identity_record"

    record_key: str = Field(primary_key=True, max_length=120)  # event id : position of the person
    seq: int = Field(unique=True)
    person_id: str = Field(index=True, max_length=36)
    source: str = Field(max_length=40)
    source_event_id: str = Field(index=True, max_length=36)
    subject_key: str = Field(index=True, max_length=200)
    given_name: str = Field(default="", max_length=200)
    family_name: str = Field(default="", max_length=200)
    date_of_birth: str | None = Field(default=None, max_length=10)
    sex: str = Field(default="", max_length=1)
    nhs_number: str | None = Field(default=None, max_length=10)
    postcode: str = Field(default="", max_length=20)
    address_line: str = Field(default="", max_length=300)
    town: str = Field(default="", max_length=200)
    resolved_at: datetime


class IdentityChange(SQLModel, table=True):
    """A merge or un-merge of two persons, in log order. A merge names the records it moved, so the
    un-merge moves exactly those back."""

    __tablename__ = "identity_change"

    seq: int = Field(primary_key=True)
    kind: str = Field(max_length=10)  # merge | unmerge | apart (an operator said: two people)
    survivor_person_id: str = Field(index=True, max_length=36)
    absorbed_person_id: str = Field(index=True, max_length=36)
    record_keys_json: str = Field(sa_column=Column(Text, nullable=False))
    cause: str = Field(max_length=200)
    actor: str = Field(max_length=80)
    at: datetime
    undone_by_seq: int | None = None


class IdentityMember(SQLModel, table=True):
    """The person each logged record belongs to now (merges and un-merges move it), one row per
    ``identity_record``: with ``identity_block`` and ``identity_nhs`` it is the index every worker
    consults, so no worker holds it in memory. A record with exactly the details of an earlier one
    is its duplicate (``duplicate_of_seq``) and moves with it. ``fingerprint``: a stable hash of the
    details, to find that earlier record."""

    __tablename__ = "identity_member"

    record_key: str = Field(primary_key=True, max_length=120)
    seq: int = Field(unique=True)  # the record's place in the log (``identity_record.seq``)
    person_id: str = Field(index=True, max_length=36)
    duplicate_of_seq: int | None = Field(default=None, index=True)
    fingerprint: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True, index=True))


class IdentityBlock(SQLModel, table=True):
    """A blocking key (a stable 63-bit hash of it) each record is filed under: the records to compare
    a new one with are those sharing a key."""

    __tablename__ = "identity_block"

    key_hash: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    seq: int = Field(primary_key=True)


class IdentityNhs(SQLModel, table=True):
    """The person a valid NHS number belongs to (the first record carrying it; it follows merges)."""

    __tablename__ = "identity_nhs"

    nhs_number: str = Field(primary_key=True, max_length=10)
    person_id: str = Field(max_length=36)


class IdentityStatistics(SQLModel, table=True):
    """The name statistics and operators' decisions a worker holds in memory, as they stood at log entry
    ``seq`` (a JSON body, ``streams/identity/statistics.py``): a starting worker loads the newest and
    replays only the log after it. Written now and then in a unit of work; the newest alone is kept."""

    __tablename__ = "identity_statistics"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    taken_at: datetime
    body: str = Field(sa_column=Column(Text, nullable=False))


class IdentityReview(SQLModel, table=True):
    """A record that looked like an existing person but not enough to merge: a human decides."""

    __tablename__ = "identity_review"

    review_id: str = Field(primary_key=True, max_length=16)
    record_key: str = Field(unique=True, max_length=120)
    person_id: str = Field(max_length=36)  # the person made for the record meanwhile
    candidate_person_id: str = Field(max_length=36)
    score: float
    status: str = Field(default="open", index=True, max_length=12)  # open | confirmed | rejected
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = Field(default=None, max_length=80)


class RegisterHistory(SQLModel, table=True):
    """Every register change ever received (registrations, amendments, de-registrations, snapshot
    corrections), so "was this child on the register at that time?" can be answered in event time,
    whatever order the changes arrived in."""

    __tablename__ = "register_history"

    change_id: str = Field(primary_key=True, max_length=120)  # the event id (a snapshot: event id | child key)
    child_key: str = Field(index=True, max_length=200)
    local_authority_code: str = Field(max_length=40)
    kind: str = Field(max_length=20)  # registered | amended | deregistered
    effective_at: datetime  # registered_on / deregistered_on (00:00 UTC), else when it happened
    occurred_at: datetime
    sequence: int | None = None
    details_json: str = Field(sa_column=Column(Text, nullable=False))
