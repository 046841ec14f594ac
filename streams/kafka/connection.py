"""How every Kafka client of ours connects: addresses plus TLS and SASL/SCRAM settings.

Inputs: ``Settings`` (``SAFEGUARD_KAFKA_*``) and the broker addresses in force. Outputs:
keyword options for kafka-python clients and credentials for Faust (aiokafka). Guarantee: one
place turns security settings into client settings, so the CLI, the admin step, the probes and
the workers always connect the same way; passwords never leave the settings object except into
the client that needs them.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

import faust

from streams.settings import Settings


@dataclass(frozen=True)
class KafkaConnection:
    bootstrap: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, bootstrap: str) -> KafkaConnection:
        return cls(
            bootstrap=bootstrap, security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism, sasl_username=settings.kafka_sasl_username,
            sasl_password=settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None,
            ssl_cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
            ssl_certfile=str(settings.kafka_ssl_certfile) if settings.kafka_ssl_certfile else None,
            ssl_keyfile=str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None)

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python's producer, consumer and admin clients."""
        options: dict[str, Any] = {"bootstrap_servers": self.bootstrap.split(","), "security_protocol": self.security_protocol}
        if self.uses_tls:
            options.update({k: v for k, v in (("ssl_cafile", self.ssl_cafile), ("ssl_certfile", self.ssl_certfile),
                                              ("ssl_keyfile", self.ssl_keyfile)) if v})
            options["ssl_check_hostname"] = True
        if self.uses_sasl:
            options.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.sasl_username,
                           sasl_plain_password=self.sasl_password)
        return options

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def faust_credentials(self) -> faust.types.auth.CredentialsT | None:
        """Credentials for Faust's broker connection, or ``None`` for plaintext."""
        if self.uses_sasl:
            return faust.SASLCredentials(username=self.sasl_username, password=self.sasl_password,
                                         mechanism=self.sasl_mechanism, ssl_context=self.ssl_context())
        if self.uses_tls:
            return faust.SSLCredentials(self.ssl_context())
        return None

    def faust_broker_urls(self) -> list[str]:
        return [f"kafka://{address}" for address in self.bootstrap.split(",")]
