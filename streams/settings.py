"""The one settings object: every knob the pipeline has, read from ``SAFEGUARD_*`` variables.

Inputs: environment variables (prefix ``SAFEGUARD_``), an optional ``.env`` file, and CLI
overrides passed as keyword arguments. Outputs: a frozen ``Settings``. Guarantee: no other
module reads the environment; secrets (tokens, passwords) only ever come from here.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

HERE = Path(__file__).parent
DEFAULT_POLICY_FILE = HERE / "sharing" / "sharing_policy.toml"


class ConfiguredToken(BaseModel):
    """A bearer token supplied by configuration: only its SHA-256 is ever written down."""

    organisation_code: str
    role: str
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class WebhookTarget(BaseModel):
    """Where one organisation's system receives its deliveries by HTTP POST, and the secret it checks them with."""

    organisation_code: str
    url: str = Field(pattern=r"^(https://|http://(127\.0\.0\.1|localhost)[:/])",
                     description="https:// (plain http only to this machine, for tests and a local proxy)")
    secret: SecretStr = Field(min_length=16)


class Settings(BaseSettings):
    """Pipeline settings; field ``x`` is read from ``SAFEGUARD_X``."""

    model_config = SettingsConfigDict(env_prefix="SAFEGUARD_", env_file=".env", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path("var"), description="Where SQLite files, logs and the runtime file live.")
    broker_url: str | None = Field(default=None, description="kafka://HOST:PORT[,HOST:PORT]; unset = embedded broker.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; unset = SQLite under data_dir.")
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8765, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=32, description="Worker processes started by `safeguard up`.")
    partitions: int = Field(default=6, ge=1, le=256, description="Partitions per topic when topics are created.")
    replication_factor: int = Field(default=1, ge=1, le=5)
    retention_hours: int = Field(default=24 * 14, ge=1, description="How long inbound and accepted topics keep events.")
    dead_letter_retention_hours: int = Field(default=24 * 90, ge=1, description="How long dead-letter topics keep events.")
    max_message_bytes: int = Field(default=1_048_576, ge=1024, description="Larger messages are dead-lettered.")
    policy_file: Path = Field(default=DEFAULT_POLICY_FILE, description="The sharing policy (data, versioned).")
    notice_templates_file: Path = Field(default=HERE / "notices" / "templates.toml",
                                        description="The Welsh and English notices people read (data, reviewed).")
    recipient_languages_file: Path = Field(default=HERE / "notices" / "recipient_languages.toml",
                                           description="Each recipient organisation's language: cy, en or cy+en.")
    watch_rules_file: Path = Field(default=HERE / "deadlines" / "deadline_rules.toml",
                                   description="Thresholds of the deadline watch (data, versioned).")
    watch_interval_seconds: float = Field(default=5.0, gt=0, description="How often workers look for breached deadlines.")
    app_id: str = Field(default="safeguard", pattern=r"^[a-z][a-z0-9_-]{0,40}$",
                        description="Consumer group prefix; distinct ids let pipelines share a broker.")
    topic_prefix: str = Field(default="safeguarding", pattern=r"^[a-z][a-z0-9_.-]{0,40}$")
    # The area this deployment serves: who receives what the policy sends to "the" local
    # authority, health board and police force when an event does not name its own.
    area_local_authority_code: str = "W06000023"
    area_local_authority_name: str = "Powys County Council"
    area_health_board_code: str = "7A7"
    area_health_board_name: str = "Powys Teaching Health Board"
    area_police_force_code: str = "DPP"
    area_police_force_name: str = "Dyfed-Powys Police"
    batch_size: int = Field(default=500, ge=1, le=10_000, description="Events per agent batch.")
    batch_within_seconds: float = Field(default=0.05, gt=0, le=10)
    session_timeout_seconds: float = Field(default=10.0, ge=1)
    consumer_fetch_max_wait_ms: int = Field(default=100, ge=10, le=1500, description="Longest wait per fetch (see broker_quirks).")
    blocking_timeout_seconds: float | None = Field(default=None, description="Faust blocking detector (dev/CI).")
    drain_timeout_seconds: float = Field(default=30.0, ge=0, description="How long `up` waits for in-flight events on stop.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(default=None, description="CA bundle that signed the brokers' certificates.")
    kafka_ssl_certfile: Path | None = Field(default=None, description="Client certificate (mutual TLS).")
    kafka_ssl_keyfile: Path | None = None
    encompass_min_age: int = Field(default=3, ge=0, le=5, description="Youngest age notified through an early-years setting.")
    encompass_wider_categories: list[str] = Field(default_factory=list,
                                                  description="PPN categories (e.g. exploitation) that also notify the school.")
    school_calendars_file: Path = Field(default=HERE / "deadlines" / "school_calendars.toml")
    smtp_host: str | None = Field(default=None, description="SMTP server for notices to schools' safeguarding leads.")
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "encompass@safeguard.invalid"
    email_retry_first_seconds: float = Field(default=30.0, gt=0)
    email_alert_after_attempts: int = Field(default=3, ge=1)
    dashboard_login: bool | None = Field(default=None, description="Operators must sign in; unset = only when not on loopback.")
    web_session_minutes: float = Field(default=480, gt=0, description="How long a dashboard sign-in lasts.")
    web_allowed_hosts: list[str] = Field(default_factory=list,
                                         description="Host names the web service answers to (unset: loopback names on a "
                                                     "loopback bind, any otherwise).")
    web_refusal_limit: int = Field(default=20, ge=1, description="Refused requests (401/403) per client per window "
                                                                 "before it gets 429.")
    web_refusal_window_seconds: float = Field(default=60, gt=0)
    web_forwarded_proto: bool = Field(default=False, description="Trust X-Forwarded-Proto from a TLS proxy in front.")
    api_tokens: list[ConfiguredToken] = Field(default_factory=list, description="JSON list of {organisation_code, role, token_sha256}.")
    producer_master_key: SecretStr | None = Field(
        default=None, description="Secret every producer's signing key derives from (unset: a key file created "
                                  "private under data_dir/secrets on first use).")
    revoked_producers: list[str] = Field(default_factory=list,
                                         description="JSON list of producers (AGENCY:ORG) whose keys are refused.")
    entitlements_file: Path = Field(default=HERE / "access" / "entitlements.toml",
                                    description="Which agency may publish which event types.")
    audit_key: SecretStr | None = Field(
        default=None, description="Key of the audit trail's MAC chain and checkpoints (unset: a key file created "
                                  "private under data_dir/secrets on first use). Never in the database.")
    audit_checkpoint_file: Path | None = Field(
        default=None, description="Where signed audit checkpoints are appended (unset: data_dir/audit-checkpoints.jsonl); "
                                  "ship it to write-once storage.")
    audit_checkpoint_seconds: float = Field(default=60.0, gt=0, description="How often a worker writes a checkpoint.")
    relay_interval_seconds: float = Field(default=0.5, gt=0, description="How often the relay looks for new deliveries.")
    relay_batch: int = Field(default=500, ge=1, le=10_000)
    webhooks: list[WebhookTarget] = Field(default_factory=list,
                                          description="JSON list of {organisation_code, url, secret}: signed HTTP POSTs.")
    webhook_retry_first_seconds: float = Field(default=5.0, gt=0)
    webhook_attempts: int = Field(default=8, ge=1, description="Attempts before a delivery is parked and operators alerted.")
    identity_match_threshold: float = Field(
        default=14.0, ge=9.0, le=40.0,
        description="Log2 evidence the identity resolver needs to merge a record into a person (higher: fewer merges, more reviews).")
    clock_offset_seconds: float = Field(
        default=0.0, description="Run the pipeline's clock this far ahead of the system clock (negative: behind). "
                                 "For rehearsals and date-independence tests; 0 in production.")
    log_level: str = "INFO"
    log_json: bool | None = Field(default=None, description="JSON logs; unset = JSON unless stderr is a terminal.")

    @model_validator(mode="after")
    def _security_is_complete(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
                self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError("kafka_security_protocol SASL_* needs kafka_sasl_mechanism, kafka_sasl_username and "
                             "kafka_sasl_password")
        return self

    @cached_property
    def database(self) -> str:
        """The SQLAlchemy URL in force."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'safeguard.db').resolve()}"

    @cached_property
    def checkpoint_file(self) -> Path:
        return self.audit_checkpoint_file or self.data_dir / "audit-checkpoints.jsonl"

    @cached_property
    def runtime_file(self) -> Path:
        """Where a running `safeguard up` records its broker and web addresses."""
        return self.data_dir / "runtime.json"
