"""Topic administration with kafka-python: explicit creation, listing, and group lag.

Inputs: a ``KafkaConnection`` and the ``Topology``. Outputs: created topics (idempotently), a
description of what exists, consumer lag per partition. Guarantee: topics are created with
their declared partition counts; an existing topic is left as it is and reported.
"""

from __future__ import annotations

import time

from kafka import TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.kafka.broker_quirks import log_end_offsets
from streams.kafka.connection import KafkaConnection
from streams.kafka.topics import Topology


def admin_client(connection: KafkaConnection) -> KafkaAdminClient:
    return KafkaAdminClient(client_id="safeguard-admin", request_timeout_ms=15000, **connection.client_options())


def ensure_topics(connection: KafkaConnection, topology: Topology, replication_factor: int = 1) -> list[str]:
    """Create every declared topic that does not exist yet; returns the names created."""
    admin = admin_client(connection)
    try:
        existing = set(admin.list_topics())
        wanted = [NewTopic(name, partitions, replication_factor, topic_configs=configs)
                  for name, (partitions, configs) in topology.declared(replication_factor).items() if name not in existing]
        created = []
        for topic in wanted:
            try:
                admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass  # another process created it between our list and create
        _wait_for_metadata(admin, topology.all_names())
        return created
    finally:
        admin.close()


def _wait_for_metadata(admin: KafkaAdminClient, names: list[str], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if set(names) <= set(admin.list_topics()):
            return
        time.sleep(0.1)
    raise RuntimeError(f"topics not visible after creation: {sorted(set(names) - set(admin.list_topics()))}")


def topic_drift(connection: KafkaConnection, topology: Topology, replication_factor: int) -> list[str]:
    """Differences between the declared topics and the cluster: missing, partitions, configs."""
    declared = topology.declared(replication_factor)
    admin = admin_client(connection)
    try:
        found = {t["name"]: t for t in admin.describe_topics(list(declared)) if t.get("error_code", 0) == 0}
        configs = _topic_configs(admin, list(found))
    finally:
        admin.close()
    problems = []
    for name, (partitions, wanted) in declared.items():
        topic = found.get(name)
        if topic is None:
            problems.append(f"{name}: missing")
            continue
        if len(topic["partitions"]) != partitions:
            problems.append(f"{name}: {len(topic['partitions'])} partitions, declared {partitions}")
        replicas = min((len(p["replica_nodes"]) for p in topic["partitions"]), default=0)
        if replicas < replication_factor:
            problems.append(f"{name}: replication factor {replicas}, declared {replication_factor}")
        actual = configs.get(name)
        if actual:  # the embedded broker reports no topic configs; a real cluster does
            problems += [f"{name}: {key}={actual.get(key)!r}, declared {value!r}"
                         for key, value in wanted.items() if actual.get(key) != value]
    return problems


def _topic_configs(admin: KafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    from kafka.admin import ConfigResource, ConfigResourceType

    if not names:
        return {}
    described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name) for name in names])
    topics = described.get("topic", {}) if isinstance(described, dict) else {}
    return {name: {k: (v.get("value") if isinstance(v, dict) else v) for k, v in (entries or {}).items()}
            for name, entries in topics.items()}


def describe_topics(connection: KafkaConnection, topology: Topology) -> list[dict]:
    """Each declared topic, then each outbound topic (one per recipient organisation and sink, created with
    its first delivery), with its partition count on the broker and its true message count."""
    admin = admin_client(connection)
    try:
        outbound = sorted(name for name in admin.list_topics() if name.startswith(f"{topology.prefix}.out."))
        names = [*topology.all_names(), *outbound]
        found = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(names) if t.get("error_code", 0) == 0}
    finally:
        admin.close()
    partitions = [TopicPartition(name, p) for name, count in found.items() for p in range(count)]
    ends = log_end_offsets(connection, partitions) if partitions else {}
    rows = []
    for name in names:
        rows.append({"topic": name, "exists": name in found, "partitions": found.get(name, 0),
                     "messages": sum(end for tp, end in ends.items() if tp.topic == name)})
    return rows


def consumer_lag(connection: KafkaConnection, group: str, topics: list[str],
                 budget_seconds: float | None = None) -> dict[tuple[str, int], int]:
    """Messages not yet committed by ``group``, per (topic, partition), against the true log end
    (found within ``budget_seconds`` of reading forward when given: see ``log_end_offsets``)."""
    admin = admin_client(connection)
    try:
        committed = admin.list_group_offsets(group).get(group, {})
        described = admin.describe_topics(topics)
    finally:
        admin.close()
    partitions = [TopicPartition(t["name"], p["partition_index"]) for t in described for p in t["partitions"]]
    ends = log_end_offsets(connection, partitions, budget_seconds) if partitions else {}
    lag = {}
    for tp in partitions:
        done = committed.get(tp)
        lag[(tp.topic, tp.partition)] = max(0, ends[tp] - (done.offset if done is not None and done.offset >= 0 else 0))
    return lag
