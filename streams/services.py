"""Services built once: settings in; the clock, store, sharing policy, sinks, deadline watch, school
calendars, identity index and topology out.

Inputs: ``Settings`` (and, for tests, a clock, an engine or sinks to use instead of the configured
ones). Outputs: ``Services``, handed to the worker, the web app, the command line and the tests,
which all run on the same objects built the same way. Guarantee: one clock for everything built
here; the sinks guard exactly what the policy allows them; nothing here touches the broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from sinks.audit import AuditSink
from sinks.contract import DELIVERY_SINKS, GuardedSink, Sink
from sinks.email import SmtpSink
from sinks.sql import SqlDeliverySink
from sinks.store import make_engine
from streams.access.credentials import ProducerKeys
from streams.access.entitlement import Entitlements
from streams.access.secrets import private_secret
from streams.clock import Clock
from streams.deadlines.school_calendar import Calendars
from streams.deadlines.watch import Watch, WatchRules
from streams.identity.index import IdentityIndex
from streams.kafka.topics import Topology
from streams.notices.languages import RecipientLanguages
from streams.notices.render import Notices
from streams.settings import Settings
from streams.sharing.policy import Policy


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    engine: Engine
    policy: Policy
    sinks: dict[str, GuardedSink]  # delivery sinks by name (each writes its audit lines too)
    audit: AuditSink
    email: SmtpSink | None  # None: no SMTP server configured, notices wait in the school inbox
    watch: Watch
    calendars: Calendars
    identity: IdentityIndex
    topology: Topology
    producer_keys: ProducerKeys  # who published a message: proved by its signature (streams/access/credentials.py)
    entitlements: Entitlements  # what that producer may publish (streams/access/entitlements.toml)
    audit_key: bytes  # the audit chain's MAC key, never in the database (sinks/audit_chain.py)

    def all_sinks(self) -> list[Sink]:
        """Every destination these services write to."""
        return [*self.sinks.values(), self.audit, *([self.email] if self.email else [])]

    def setup_sinks(self) -> None:
        """``setup`` every sink once, before the first unit of work (the worker, the web app, a command)."""
        for sink in self.all_sinks():
            sink.setup()

    def flush_sinks(self, names: Iterable[str] = ()) -> None:
        """After a unit of work commits: ``flush`` the delivery sinks it wrote to, and the audit writer."""
        for name in names:
            self.sinks[name].flush()
        self.audit.flush()


AUDIT_KEY_FILE = Path("secrets") / "audit.key"


def load_policy(settings: Settings) -> Policy:
    """The sharing policy with the notices its operational deliveries carry, in each recipient's language."""
    return Policy.load(settings.policy_file, Notices.load(settings.notice_templates_file),
                       RecipientLanguages.load(settings.recipient_languages_file))


def build_services(settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None,
                   sinks: dict[str, GuardedSink] | None = None) -> Services:
    """Everything the units of work, the web app and the command line need, from one settings object."""
    clock = clock or clock_for(settings)
    policy = load_policy(settings)
    audit = AuditSink()
    return Services(
        settings=settings, clock=clock, engine=engine or make_engine(settings.database), policy=policy,
        sinks=sinks or build_delivery_sinks(policy, audit), audit=audit, email=build_email_sink(settings),
        watch=Watch(WatchRules.load(settings.watch_rules_file), policy, clock),
        calendars=Calendars(settings.school_calendars_file),
        identity=IdentityIndex(policy, audit, clock, settings.identity_match_threshold),
        topology=Topology.from_settings(settings),
        producer_keys=ProducerKeys.from_settings(settings),
        entitlements=Entitlements.load(settings.entitlements_file),
        audit_key=audit_key_for(settings),
    )


def audit_key_for(settings: Settings) -> bytes:
    """The configured audit key, else the data directory's (created private on first use)."""
    if settings.audit_key is not None:
        key = settings.audit_key.get_secret_value().encode()
        if len(key) < 32:
            raise ValueError("SAFEGUARD_AUDIT_KEY must be at least 32 characters")
        return key
    return private_secret(settings.data_dir / AUDIT_KEY_FILE)


def clock_for(settings: Settings) -> Clock:
    """The clock every process built from ``settings`` shares (the system clock, shifted by the offset)."""
    return Clock(timedelta(seconds=settings.clock_offset_seconds))


def build_delivery_sinks(policy: Policy, audit: AuditSink) -> dict[str, GuardedSink]:
    """One SQL sink per destination, each guarding the union of the policy's views for it and, per delivery, the
    delivering rule's own view (nested keys included)."""
    return {name: SqlDeliverySink(name, policy.allowed_keys(name), audit, policy.content_shapes(name)) for name in DELIVERY_SINKS}


def build_email_sink(settings: Settings) -> SmtpSink | None:
    if not settings.smtp_host:
        return None
    return SmtpSink(settings.smtp_host, settings.smtp_port, settings.smtp_starttls, settings.smtp_username,
                    settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                    retry_after_seconds=settings.email_retry_first_seconds)
