"""Topic administration with kafka-python: explicit creation, listing, and group lag.

Inputs: a bootstrap address and the ``Topology``. Outputs: created topics (idempotently), a
description of what exists, consumer lag per partition. Guarantee: topics are created with
their declared partition counts; an existing topic is left as it is and reported.
"""

from __future__ import annotations

import time

from kafka import TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.broker_quirks import log_end_offsets
from streams.topics import Topology


def admin_client(bootstrap: str) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="safeguard-admin", request_timeout_ms=15000)


def ensure_topics(bootstrap: str, topology: Topology, replication_factor: int = 1) -> list[str]:
    """Create every declared topic that does not exist yet; returns the names created."""
    admin = admin_client(bootstrap)
    try:
        existing = set(admin.list_topics())
        wanted = [NewTopic(name, spec.partitions, replication_factor)
                  for spec in topology.all_specs for name in (spec.name, spec.dead_letter) if name not in existing]
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


def describe_topics(bootstrap: str, topology: Topology) -> list[dict]:
    """Each declared topic with its partition count on the broker and its true message count."""
    admin = admin_client(bootstrap)
    try:
        found = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(topology.all_names())
                 if t.get("error_code", 0) == 0}
    finally:
        admin.close()
    partitions = [TopicPartition(name, p) for name, count in found.items() for p in range(count)]
    ends = log_end_offsets(bootstrap, partitions) if partitions else {}
    rows = []
    for name in topology.all_names():
        rows.append({"topic": name, "exists": name in found, "partitions": found.get(name, 0),
                     "messages": sum(end for tp, end in ends.items() if tp.topic == name)})
    return rows


def consumer_lag(bootstrap: str, group: str, topics: list[str]) -> dict[tuple[str, int], int]:
    """Messages not yet committed by ``group``, per (topic, partition), against the true log end."""
    admin = admin_client(bootstrap)
    try:
        committed = admin.list_group_offsets(group).get(group, {})
        described = admin.describe_topics(topics)
    finally:
        admin.close()
    partitions = [TopicPartition(t["name"], p["partition_index"]) for t in described for p in t["partitions"]]
    ends = log_end_offsets(bootstrap, partitions) if partitions else {}
    lag = {}
    for tp in partitions:
        done = committed.get(tp)
        lag[(tp.topic, tp.partition)] = max(0, ends[tp] - (done.offset if done is not None and done.offset >= 0 else 0))
    return lag
