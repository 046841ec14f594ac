"""The `safeguard` command line (the contract in EVENTS.md).

Inputs: arguments; settings from ``SAFEGUARD_*`` with ``--data-dir``/``--broker``/``--database``
/``--port`` overriding them. Outputs: the pipeline (``up``), publications, JSON-lines exports,
topic and dead-letter listings. Guarantee: exit status 0 only when the command did all it was
asked; every refusal is printed with its reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, select

from sinks.contract import DELIVERY_SINKS, SINKS
from sinks.lines import delivery_line, iso
from sinks.models import AuditRecord, DeadLetterRecord, DeliveryRecord
from sinks.store import make_engine
from streams.kafka.connection import KafkaConnection
from streams.kafka.topics import Topology
from streams.services import Services, build_services, clock_for, load_policy
from streams.settings import Settings

EXPORTABLE = SINKS


class CliError(Exception):
    """A refusal to print on stderr with exit status 2."""


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {}
    for option, field in (("data_dir", "data_dir"), ("broker", "broker_url"), ("database", "database_url"),
                          ("port", "web_port"), ("workers", "workers")):
        value = getattr(args, option, None)
        if value is not None:
            overrides[field] = value
    if "broker_url" in overrides and not str(overrides["broker_url"]).startswith("kafka://"):
        raise CliError("--broker takes kafka://HOST:PORT")
    return Settings(**overrides)


def running_broker(settings: Settings) -> KafkaConnection:
    """How to reach the broker: --broker, else the running `up` for this data directory."""
    return KafkaConnection.from_settings(settings, _bootstrap(settings))


def _bootstrap(settings: Settings) -> str:
    from streams.runtime.supervisor import read_runtime
    from streams.runtime.worker import broker_address

    if settings.broker_url:
        return broker_address(settings.broker_url)
    runtime = read_runtime(settings)
    if not runtime:
        raise CliError(f"no running pipeline found for data directory {settings.data_dir}: "
                       "start `safeguard up` (same --data-dir) or pass --broker kafka://HOST:PORT")
    return runtime["broker"]


def services_for(settings: Settings) -> Services:
    """The services a command needs, on the store of the running instance (or the configured one)."""
    services = build_services(settings, engine=make_engine(database_url(settings)))
    services.setup_sinks()
    return services


def database_url(settings: Settings) -> str:
    from streams.runtime.supervisor import read_runtime

    if settings.database_url:
        return settings.database_url
    runtime = read_runtime(settings)
    return runtime["database"] if runtime else settings.database


# --- commands ------------------------------------------------------------------------------------

def cmd_up(args: argparse.Namespace) -> int:
    from streams.runtime import logs
    from streams.runtime.supervisor import Supervisor

    settings = settings_from(args)
    logs.configure(settings, process="up")
    asyncio.run(Supervisor(settings).run(demo=args.demo))
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from streams.access.credentials import ProducerKeys
    from streams.kafka.publisher import publish_lines, rejection_line

    settings = settings_from(args)
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    connection = running_broker(settings)
    with path.open("rb") as handle:
        report = publish_lines(handle, Topology.from_settings(settings), connection, clock_for(settings).now(),
                               ProducerKeys.from_settings(settings))
    for rejection in report.rejected:
        print(rejection_line(rejection))
    print(f"published {report.published}, rejected {len(report.rejected)}", file=sys.stderr)
    return 1 if report.rejected else 0


def cmd_export(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    engine = make_engine(database_url(settings))
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    try:
        with Session(engine) as session:
            if args.sink == "audit":
                for record in session.exec(select(AuditRecord).order_by(AuditRecord.sequence)):  # type: ignore[arg-type]
                    out.write(json.dumps(audit_line(record), ensure_ascii=False) + "\n")
            else:
                query = select(DeliveryRecord).where(DeliveryRecord.sink == args.sink).order_by(
                    DeliveryRecord.delivered_at, DeliveryRecord.delivery_id)  # type: ignore[arg-type]
                withdrawn, recalls = set(), frozenset()
                if args.standing:  # what stands: neither recalled nor a recall notice
                    from streams.pipeline.rejudge import recalled_ids

                    policy = load_policy(settings)
                    withdrawn, recalls = recalled_ids(session, policy), policy.recall_rule_ids()
                for delivery in session.exec(query):
                    if delivery.delivery_id in withdrawn or delivery.rule in recalls:
                        continue
                    out.write(json.dumps(delivery_line(delivery), ensure_ascii=False) + "\n")
    finally:
        if args.out:
            out.close()
    return 0


def audit_line(record: AuditRecord) -> dict:
    return {
        "sequence": record.sequence, "audit_id": record.audit_id, "sink": "audit", "recorded_at": iso(record.recorded_at),
        "action": record.action, "actor": record.actor, "recipient": record.recipient, "rule": record.rule,
        "policy_version": record.policy_version, "source_event_id": record.source_event_id, "delivery_id": record.delivery_id,
        "disclosed_to_sink": record.sink, "subject_key": record.subject_key, "master_person_id": record.master_person_id,
        "detail": json.loads(record.detail) if record.detail else None,
    }


def cmd_topics(args: argparse.Namespace) -> int:
    from streams.kafka.admin import describe_topics

    settings = settings_from(args)
    if args.check:
        from streams.kafka.admin import topic_drift

        problems = topic_drift(running_broker(settings), Topology.from_settings(settings), settings.replication_factor)
        for problem in problems:
            print(f"drift: {problem}")
        print("topics match their declarations" if not problems else f"{len(problems)} difference(s)", file=sys.stderr)
        return 1 if problems else 0
    for row in describe_topics(running_broker(settings), Topology.from_settings(settings)):
        state = f"{row['partitions']} partitions, {row['messages']} messages" if row["exists"] else "MISSING"
        print(f"{row['topic']}: {state}")
    return 0


def cmd_dlq(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    engine = make_engine(database_url(settings))
    with Session(engine) as session:
        query = select(DeadLetterRecord).order_by(DeadLetterRecord.parked_at)  # type: ignore[arg-type]
        letters = list(session.exec(query))
        if args.action == "list":
            for letter in letters:
                print(json.dumps({"dead_letter_id": letter.dead_letter_id, "topic": letter.topic, "partition": letter.partition,
                                  "offset": letter.offset, "event_id": letter.event_id, "event_type": letter.event_type,
                                  "field_path": letter.field_path, "reason": letter.reason, "parked_at": iso(letter.parked_at),
                                  "replayed_at": iso(letter.replayed_at) if letter.replayed_at else None}, ensure_ascii=False))
            return 0
    from streams.kafka.publisher import send_raw
    from streams.pipeline.operator_actions import ActionRefused, replay_dead_letters

    services = services_for(settings)
    try:
        outcome = replay_dead_letters(services, lambda messages: send_raw(messages, running_broker(settings), services.producer_keys),
                                      args.ids, args.all, f"operator:{args.by}" if getattr(args, "by", None) else "operator")
    except ActionRefused as exc:
        raise CliError(str(exc)) from exc
    for dead_letter_id, why in outcome.refused:
        print(f"not replayed {dead_letter_id}: {why}", file=sys.stderr)
    print(f"replayed {len(outcome.replayed)} dead letter(s)")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """One worker process against a running broker (production: several, one consumer group)."""
    import os

    from streams.runtime import worker

    settings = settings_from(args)
    if not settings.broker_url:
        raise CliError("worker needs --broker kafka://HOST:PORT (or SAFEGUARD_BROKER_URL)")
    os.environ["SAFEGUARD_BROKER_URL"] = settings.broker_url  # the worker reads the settings object afresh
    if settings.database_url:
        os.environ["SAFEGUARD_DATABASE_URL"] = settings.database_url
    sys.argv = [sys.argv[0], "worker"]
    worker.main()
    return 0


def cmd_relay(args: argparse.Namespace) -> int:
    """The outbox relay and webhook dispatcher against a running broker (production: one replica)."""
    import os

    from streams.runtime import relay

    settings = settings_from(args)
    if not settings.broker_url:
        raise CliError("relay needs --broker kafka://HOST:PORT (or SAFEGUARD_BROKER_URL)")
    os.environ["SAFEGUARD_BROKER_URL"] = settings.broker_url
    if settings.database_url:
        os.environ["SAFEGUARD_DATABASE_URL"] = settings.database_url
    relay.main()
    return 0


def cmd_feed(args: argparse.Namespace) -> int:
    """``feed replay --recipient ORG [--sink S] [--since T]``: publish again what an organisation was sent (same
    delivery ids), for a system that lost its data or is being connected for the first time."""
    from sinks.lines import delivery_bytes
    from streams.kafka.outbound import KafkaOutbound, OutboundMessage

    settings = settings_from(args)
    try:
        since = datetime.fromisoformat(args.since) if args.since else None
    except ValueError as exc:
        raise CliError(f"--since: {exc}") from exc
    if since is not None and since.tzinfo is None:
        raise CliError("--since: give a time with its UTC offset, e.g. 2026-11-20T00:00:00+00:00")
    engine = make_engine(database_url(settings))
    topology = Topology.from_settings(settings)
    with Session(engine) as session:
        query = select(DeliveryRecord).where(DeliveryRecord.recipient == args.recipient)
        if args.sink:
            query = query.where(DeliveryRecord.sink == args.sink)
        if since is not None:
            query = query.where(DeliveryRecord.delivered_at >= since)
        rows = session.exec(query.order_by(DeliveryRecord.delivered_at, DeliveryRecord.delivery_id)).all()  # type: ignore[arg-type]
    messages = [OutboundMessage(topology.outbound(row.sink, row.recipient), (row.master_person_id or row.delivery_id).encode(),
                                delivery_bytes(row), row.delivery_id) for row in rows]
    if messages:
        outbound = KafkaOutbound(running_broker(settings), settings.partitions, settings.replication_factor)
        try:
            outbound.ensure_topics({m.topic for m in messages})
            outbound.publish(messages)
        finally:
            outbound.close()
    print(f"replayed {len(messages)} delivery(ies) to {args.recipient} on "
          f"{', '.join(sorted({m.topic for m in messages})) or 'no topic'}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """The web/API service alone (production: beside the workers, behind a load balancer)."""
    from aiohttp import web

    from streams.runtime import logs
    from streams.web.app import build_web_app

    settings = settings_from(args)
    logs.configure(settings, process="web")
    services = build_services(settings)
    engine = services.engine
    connection = running_broker(settings)

    def is_ready() -> tuple[bool, str]:
        from streams.kafka.admin import admin_client

        try:
            admin_client(connection).close()
            with Session(engine) as session:
                session.exec(select(DeliveryRecord.delivery_id).limit(1)).all()
        except Exception as exc:  # noqa: BLE001 - readiness reports, never raises
            return False, f"not ready: {type(exc).__name__}"
        return True, "broker and database reachable"

    print(f"safeguard web/API on http://{settings.web_host}:{settings.web_port}/", flush=True)
    from streams.kafka.publisher import send_raw

    web.run_app(build_web_app(services, is_ready, publish=lambda messages: send_raw(messages, connection, services.producer_keys)),
                host=settings.web_host, port=settings.web_port,
                print=None, access_log=None)
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    """Create every declared topic that is missing (idempotent) and migrate the database."""
    from streams.kafka.admin import ensure_topics

    settings = settings_from(args)
    make_engine(settings.database)  # runs the schema migrations once, before any worker starts
    created = ensure_topics(running_broker(settings), Topology.from_settings(settings), settings.replication_factor)
    print(f"created {len(created)} topic(s): {', '.join(created) or 'none needed'}")
    return 0


def cmd_producer_key(args: argparse.Namespace) -> int:
    """The signing key of one producer (AGENCY:ORG), for an operator to hand to that organisation's system."""
    from streams.access.credentials import PRODUCER_HEADER, SIGNATURE_HEADER, Producer, ProducerKeys
    from streams.access.entitlement import Entitlements

    settings = settings_from(args)
    try:
        producer = Producer.parse(args.producer)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    entitled = Entitlements.load(settings.entitlements_file).event_types.get(producer.agency)
    if entitled is None:
        raise CliError(f"producer {producer.name}: unknown agency {producer.agency!r} (see the entitlements file)")
    print(ProducerKeys.from_settings(settings).key_for(producer).hex())
    print(f"{producer.name} may publish: {', '.join(sorted(entitled))}. Send each message with headers "
          f"{PRODUCER_HEADER}: {producer.name} and {SIGNATURE_HEADER}: hmac-sha256=<hex HMAC-SHA256 of the value "
          "bytes, keyed with the 32 bytes this hex encodes>.", file=sys.stderr)
    return 0


def cmd_acls(args: argparse.Namespace) -> int:
    """Kafka ACL commands (kafka-acls.sh) letting each organisation's principal write only to the inbound topics
    its agency is entitled to and read only its own outbound topics (``PRINCIPAL=AGENCY:ORG``, e.g.
    ``User:dpp-niche=police:DPP``): defence in depth on a cluster with SASL or mutual TLS; intake still
    believes only the producer's signature."""
    from streams.access.credentials import Producer
    from streams.access.entitlement import Entitlements

    settings = settings_from(args)
    entitlements, topology = Entitlements.load(settings.entitlements_file), Topology.from_settings(settings)
    print("# generated by `safeguard acls` from the entitlements file; BOOTSTRAP and the admin client config are yours")
    for mapping in args.producers:
        principal, _, name = mapping.partition("=")
        try:
            producer = Producer.parse(name)
        except ValueError as exc:
            raise CliError(f"{mapping}: {exc}") from exc
        if not principal.startswith("User:") or producer.agency not in entitlements.event_types:
            raise CliError(f"{mapping}: expected User:NAME=AGENCY:ORG with a known agency")
        for topic in sorted({topology.topic_for(t).name for t in entitlements.event_types[producer.agency]}):
            print(f'kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --add '
                  f"--allow-principal {principal} --operation Write --operation Describe --topic {topic}  # {producer.name}")
        for sink in DELIVERY_SINKS:  # what it is sent: its own outbound topics, read with groups named after it
            print(f'kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --add '
                  f"--allow-principal {principal} --operation Read --operation Describe "
                  f"--topic {topology.outbound(sink, producer.organisation_code)}  # {producer.name}")
        print(f'kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --add '
              f"--allow-principal {principal} --operation Read --group {producer.organisation_code}- "
              f"--resource-pattern-type prefixed  # {producer.name}: consumer groups named {producer.organisation_code}-…")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from streams.access import tokens

    settings = settings_from(args)
    engine = make_engine(database_url(settings))
    now = clock_for(settings).now()
    if args.action == "issue":
        if not args.org or not args.role:
            raise CliError("token issue needs --org CODE and --role ROLE")
        try:
            lifetime = tokens.parse_lifetime(args.expires) if args.expires else tokens.DEFAULT_LIFETIME
            token_id, token = tokens.issue(engine, args.org, args.role, now, lifetime)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        print(token)
        print(f"issued token {token_id} for {args.org} ({args.role}), valid until {(now + lifetime).isoformat()}; it is "
              "shown once and stored only as a hash", file=sys.stderr)
        return 0
    if not args.token:
        raise CliError("token revoke needs the token id (or the token)")
    if tokens.revoke(engine, settings, args.token, now) == 0:
        raise CliError("no active token with that id")
    print("revoked", file=sys.stderr)
    return 0


def cmd_reconciliation(args: argparse.Namespace) -> int:
    """Every register reconciliation report, newest last, as JSON lines."""
    services = services_for(settings_from(args))
    with Session(services.engine) as session:
        query = select(DeliveryRecord).where(DeliveryRecord.rule.in_(  # type: ignore[attr-defined]
            list(services.policy.reconciliation_report_rules))).order_by(DeliveryRecord.delivered_at)  # type: ignore[arg-type]
        for delivery in session.exec(query):
            content = json.loads(delivery.content_json)
            print(json.dumps({"source_event_id": delivery.source_event_id, "delivered_at": iso(delivery.delivered_at),
                              **content.get("reconciliation_report", {})}))
    return 0


def cmd_schools(args: argparse.Namespace) -> int:
    """Load the school directory (DSL e-mails) or the school roll (UPN / NHS number -> school) from CSV."""
    from streams.encompass.schools import load_directory, load_roll

    settings = settings_from(args)
    engine = make_engine(database_url(settings))
    loader = load_directory if args.action == "load" else load_roll
    try:
        loaded, rejected = loader(engine, Path(args.file))
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    for line, reason in rejected:
        print(f"line {line}: rejected: {reason}")
    print(f"loaded {loaded}, rejected {len(rejected)}", file=sys.stderr)
    return 1 if rejected else 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Seal pending audit records (``seal``), write a signed checkpoint of the chain head (``checkpoint``), or
    check the whole trail against its key, its deliveries and the latest checkpoint (``verify``, exit 1 on any break)."""
    from sinks.audit_chain import checkpoint, seal, verify
    from streams.pipeline.audit_trail import append_checkpoint, read_checkpoint_lines

    services = build_services(settings_from(args), engine=make_engine(database_url(settings_from(args))))
    if args.action == "seal":
        print(f"sealed {seal(services.engine, services.audit_key)} record(s)")
        return 0
    if args.action == "checkpoint":
        seal(services.engine, services.audit_key)
        mark = checkpoint(services.engine, services.audit_key, services.clock.now())
        if mark is None:
            raise CliError("nothing sealed yet: no checkpoint written")
        append_checkpoint(services, mark)
        print(f"checkpoint: sequence {mark.sequence} written to {services.settings.checkpoint_file}")
        return 0
    result = verify(services.engine, services.audit_key, read_checkpoint_lines(services))
    for problem in result.problems:
        print(f"broken: {problem}")
    against = (f"; checked against the checkpoint of {result.checkpoint.at} (sequence {result.checkpoint.sequence})"
               if result.checkpoint else "; no checkpoint to check against")
    print(f"{result.sealed} sealed record(s) verified, {result.unsealed} not sealed yet, {result.disclosures} "
          f"disclosure(s) matched to their deliveries{against}" + ("" if result.ok else f"; {len(result.problems)} problem(s)"))
    return 0 if result.ok else 1


def cmd_identity(args: argparse.Namespace) -> int:
    """Resolve a CSV of person records to persons (`identity resolve INPUT.csv --out OUTPUT.csv`)."""
    from streams.identity.batch import resolve_file

    source = Path(args.input)
    if not source.is_file():
        raise CliError(f"{source}: no such file")
    try:
        written, report, resolver = resolve_file(source, Path(args.out), Settings().identity_match_threshold)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    for line in report:
        print(line, file=sys.stderr)
    persons = len(resolver.members)
    print(f"resolved {written} record(s) to {persons} person(s); {len(resolver.reviews)} pair(s) for review",
          file=sys.stderr)
    return 0


def cmd_identity_review(args: argparse.Namespace) -> int:
    """The identity review queue and merges: ``review list|confirm|reject``, ``unmerge``, ``person``."""
    from sinks.contract import SinkRefused
    from streams.identity.index import IdentityRefused
    from streams.pipeline.operator_actions import ActionRefused, decide_review
    from streams.pipeline.rejudge import after_identity_decision

    services = services_for(settings_from(args))
    engine, index = services.engine, services.identity
    actor = f"operator:{args.by}" if getattr(args, "by", None) else "operator"
    with Session(engine) as session:
        try:
            if args.identity_command == "person":
                for row in index.person(session, args.person_id):
                    # Identifiers only on the screen: the record, its source event and its subject key.
                    print(f"{row.record_key}\t{row.source}\t{row.source_event_id}\t{row.subject_key}\t{row.person_id}")
                return 0
            if args.identity_command == "review" and args.action == "list":
                for review in index.reviews(session, None if args.all else "open"):
                    print(f"{review.review_id}\t{review.status}\tscore {review.score:.1f}\trecord {review.record_key}"
                          f"\tperson {review.person_id}\tcandidate {review.candidate_person_id}"
                          + (f"\tdecided by {review.decided_by}" if review.decided_by else ""))
                return 0
            if args.identity_command == "unmerge":
                notice = index.unmerge(session, args.change_seq, actor)
                # The notice, and re-judging both persons' histories: what they qualify for now, recalls of what not.
                written = after_identity_decision(session, services, notice, actor)
                session.commit()
                services.flush_sinks(sorted(written))
                print(f"done: {notice.content['event_type']} change {notice.content['change_seq']}")
                return 0
        except (IdentityRefused, SinkRefused) as exc:
            raise CliError(str(exc)) from exc
    try:
        print(decide_review(services, _required(args.review_id, "review_id"), args.action, actor))
    except ActionRefused as exc:
        raise CliError(str(exc)) from exc
    return 0


def _required(value: str | None, name: str) -> str:
    if not value:
        raise CliError(f"{name} is required")
    return value


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.runtime.demo import demo_day

    now = clock_for(settings_from(args)).now()
    with open(args.out, "wb") as handle:
        for line in demo_day(now, args.seed):
            handle.write(line + b"\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="safeguard", description="Multi-agency child-safeguarding information-sharing pipeline.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="data directory (default ./var)")
    common.add_argument("--broker", help="kafka://HOST:PORT of a running broker (default: the embedded one)")
    common.add_argument("--database", help="SQLAlchemy database URL (default: SQLite under --data-dir)")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", parents=[common], help="run the whole pipeline until stopped")
    up.add_argument("--port", type=int, help="dashboard port (default 8765; 0 = any free port)")
    up.add_argument("--workers", type=int, help="worker processes (default 1)")
    up.add_argument("--demo", action="store_true", help="also publish a demo day of events")
    up.set_defaults(func=cmd_up)

    publish = commands.add_parser("publish", parents=[common], help="validate and publish a JSON-lines file")
    publish.add_argument("file")
    publish.set_defaults(func=cmd_publish)

    export = commands.add_parser("export", parents=[common], help="what a sink has received, as JSON lines")
    export.add_argument("sink", choices=EXPORTABLE)
    export.add_argument("--out", help="write to this file instead of standard output")
    export.add_argument("--standing", action="store_true",
                        help="leave out recalled deliveries and the recall notices (what stands, whatever the arrival order)")
    export.set_defaults(func=cmd_export)

    topics = commands.add_parser("topics", parents=[common], help="declared topics and their state on the broker")
    topics.add_argument("--check", action="store_true", help="report drift from the declarations; exit 1 if any")
    topics.set_defaults(func=cmd_topics)

    dlq = commands.add_parser("dlq", parents=[common], help="list or replay parked (dead-letter) inputs")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("ids", nargs="*", help="dead-letter ids to replay")
    dlq.add_argument("--all", action="store_true", help="replay every dead letter not replayed yet")
    dlq.set_defaults(func=cmd_dlq)

    worker = commands.add_parser("worker", parents=[common], help="run one worker against --broker")
    worker.set_defaults(func=cmd_worker)

    relay = commands.add_parser("relay", parents=[common], help="run the outbox relay and webhooks against --broker")
    relay.set_defaults(func=cmd_relay)

    feed = commands.add_parser("feed", parents=[common], help="outbound feeds: replay what an organisation was sent")
    feed.add_argument("action", choices=["replay"])
    feed.add_argument("--recipient", required=True, help="organisation code")
    feed.add_argument("--sink", choices=list(DELIVERY_SINKS), help="only this sink's topic")
    feed.add_argument("--since", help="only deliveries from this time (ISO 8601 with offset)")
    feed.set_defaults(func=cmd_feed)

    serve = commands.add_parser("serve", parents=[common], help="run the web/API service alone against --broker")
    serve.add_argument("--port", type=int, help="port (default 8765)")
    serve.set_defaults(func=cmd_serve)

    provision = commands.add_parser("provision", parents=[common],
                                    help="create the declared topics on --broker and migrate the database")
    provision.set_defaults(func=cmd_provision)

    producer_key = commands.add_parser("producer-key", parents=[common],
                                       help="print the signing key of a producer (AGENCY:ORG) for its system")
    producer_key.add_argument("producer", help="e.g. police:DPP or local_authority:W06000023")
    producer_key.set_defaults(func=cmd_producer_key)

    acls = commands.add_parser("acls", parents=[common], help="print Kafka ACLs for producer principals")
    acls.add_argument("producers", nargs="+", help="PRINCIPAL=AGENCY:ORG, e.g. User:dpp-niche=police:DPP")
    acls.set_defaults(func=cmd_acls)

    token = commands.add_parser("token", parents=[common], help="issue or revoke an API bearer token")
    token.add_argument("action", choices=["issue", "revoke"])
    token.add_argument("token", nargs="?", help="(revoke) the token id or the token")
    token.add_argument("--org", help="(issue) organisation code")
    token.add_argument("--role", help="(issue) view_only, view_and_notify, school, operator or record_viewer")
    token.add_argument("--expires", help="(issue) lifetime: 90d (default), 12h, 30m")
    token.set_defaults(func=cmd_token)

    reconciliation = commands.add_parser("reconciliation", parents=[common], help="register reconciliation reports")
    reconciliation.set_defaults(func=cmd_reconciliation)

    schools = commands.add_parser("schools", parents=[common], help="load the school directory or the school roll from CSV")
    schools.add_argument("action", choices=["load", "load-roll"])
    schools.add_argument("file")
    schools.set_defaults(func=cmd_schools)

    audit = commands.add_parser("audit", parents=[common], help="seal or verify the tamper-evident audit trail")
    audit.add_argument("action", choices=["verify", "seal", "checkpoint"])
    audit.set_defaults(func=cmd_audit)

    identity = commands.add_parser("identity", help="identity resolution")
    identity_commands = identity.add_subparsers(dest="identity_command", required=True)
    resolve = identity_commands.add_parser("resolve", help="resolve a CSV of person records: record_id,person_id")
    resolve.add_argument("input")
    resolve.add_argument("--out", required=True)
    resolve.set_defaults(func=cmd_identity)
    review = identity_commands.add_parser("review", parents=[common], help="the review queue: list, confirm or reject")
    review.add_argument("action", choices=["list", "confirm", "reject"])
    review.add_argument("review_id", nargs="?")
    review.add_argument("--all", action="store_true", help="(list) decided reviews too")
    review.add_argument("--by", help="who decided (recorded and audited)")
    review.set_defaults(func=cmd_identity_review)
    unmerge = identity_commands.add_parser("unmerge", parents=[common], help="undo a merge by its change number")
    unmerge.add_argument("change_seq", type=int)
    unmerge.add_argument("--by", help="who decided (recorded and audited)")
    unmerge.set_defaults(func=cmd_identity_review)
    person = identity_commands.add_parser("person", parents=[common], help="the source records of a master person")
    person.add_argument("person_id")
    person.set_defaults(func=cmd_identity_review)

    demo = commands.add_parser("demo", help="write the demo day as a JSON-lines file")
    demo.add_argument("out")
    demo.add_argument("--seed", type=int, default=2026)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"safeguard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `safeguard export health | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
