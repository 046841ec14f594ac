"""Producer credentials: who published a message, proved by a key, never by what the message says.

Inputs: a message's value and headers (intake), or a value to sign (every publisher the project ships:
``safeguard publish``, the demo day, dead-letter replay, the benchmarks). Outputs: the signing headers
``safeguard-producer: AGENCY:ORGANISATION`` and ``safeguard-signature: hmac-sha256=HEX`` (HMAC-SHA256 of
the value's exact bytes with that producer's key), or the ``Producer`` a message's headers prove, or the
reason they prove nothing. Guarantees: a producer's key is derived from the instance's master key and
the producer's name (``safeguard producer-key AGENCY:ORG`` prints it for a system outside), so the master
key alone (``SAFEGUARD_PRODUCER_MASTER_KEY``, or a file created private under the data directory on first
use) vouches for every producer; keys are compared in constant time; revoked producers
(``SAFEGUARD_REVOKED_PRODUCERS``) are refused however they sign.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from streams.access.secrets import private_secret
from streams.settings import Settings

PRODUCER_HEADER = "safeguard-producer"
SIGNATURE_HEADER = "safeguard-signature"
SIGNATURE_SCHEME = "hmac-sha256="
MASTER_KEY_FILE = Path("secrets") / "producer-master.key"


@dataclass(frozen=True)
class Producer:
    agency: str
    organisation_code: str

    @property
    def name(self) -> str:
        return f"{self.agency}:{self.organisation_code}"

    @classmethod
    def parse(cls, name: str) -> Producer:
        agency, _, organisation = name.partition(":")
        if not agency or not organisation:
            raise ValueError(f"producer {name!r}: expected AGENCY:ORGANISATION_CODE (e.g. police:DPP)")
        return cls(agency, organisation)


class CredentialError(ValueError):
    """The headers do not prove who published the message; the text says why."""


class ProducerKeys:
    def __init__(self, master_key: bytes, revoked: Iterable[str] = ()) -> None:
        if len(master_key) < 32:
            raise ValueError("the producer master key must be at least 32 bytes")
        self._master = master_key
        self.revoked = frozenset(revoked)

    @classmethod
    def from_settings(cls, settings: Settings) -> ProducerKeys:
        """The configured master key, else the data directory's (created, private to this user, on first use)."""
        if settings.producer_master_key is not None:
            return cls(settings.producer_master_key.get_secret_value().encode(), settings.revoked_producers)
        return cls(private_secret(settings.data_dir / MASTER_KEY_FILE), settings.revoked_producers)

    def key_for(self, producer: Producer) -> bytes:
        return hmac.new(self._master, f"safeguard-producer-key|{producer.name}".encode(), hashlib.sha256).digest()

    def sign(self, producer: Producer, value: bytes) -> list[tuple[str, bytes]]:
        return signed_headers(producer, self.key_for(producer), value)

    def sign_as_claimed(self, value: bytes) -> list[tuple[str, bytes]]:
        """Headers vouching for the producer the event names in ``source`` (what ``safeguard publish`` does
        for the organisations this instance serves); none for a value that names no producer (it will be
        parked for what is wrong with it anyway)."""
        try:
            source = json.loads(value)["source"]
            producer = Producer(str(source["agency"]), str(source["organisation_code"]))
        except (ValueError, KeyError, TypeError):
            return []
        return self.sign(producer, value)

    def verify(self, headers: Mapping[str, bytes], value: bytes) -> Producer:
        """The producer the headers prove for ``value``; raises ``CredentialError`` naming what is missing or wrong."""
        claimed, signature = headers.get(PRODUCER_HEADER), headers.get(SIGNATURE_HEADER)
        if claimed is None or signature is None:
            raise CredentialError(f"unsigned: no {PRODUCER_HEADER} and {SIGNATURE_HEADER} headers; every producer "
                                  "signs with its own key (README, Security model)")
        try:
            producer = Producer.parse(claimed.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise CredentialError(f"{PRODUCER_HEADER}: {exc}") from None
        expected = signed_headers(producer, self.key_for(producer), value)[1][1]
        if not hmac.compare_digest(expected, signature):
            raise CredentialError(f"{SIGNATURE_HEADER}: does not match the message for producer {producer.name} "
                                  "(wrong key, or the message was altered)")
        if producer.name in self.revoked:
            raise CredentialError(f"producer {producer.name}: its key has been revoked")
        return producer


def signed_headers(producer: Producer, key: bytes, value: bytes) -> list[tuple[str, bytes]]:
    """The two headers a producer holding ``key`` sends with ``value`` (what a non-Python system computes)."""
    digest = hmac.new(key, value, hashlib.sha256).hexdigest()
    return [(PRODUCER_HEADER, producer.name.encode()), (SIGNATURE_HEADER, f"{SIGNATURE_SCHEME}{digest}".encode())]


def header_map(headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None) -> dict[str, bytes]:
    """Kafka headers (a list of pairs, or a mapping) as a mapping; the first of a repeated name wins."""
    if headers is None:
        return {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, bytes] = {}
    for name, value in pairs:
        found.setdefault(str(name).lower(), bytes(value or b""))
    return found
