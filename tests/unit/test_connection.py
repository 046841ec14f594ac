"""Security settings become the same client settings for every Kafka client."""

import faust
import pytest
from pydantic import ValidationError

from streams.kafka.connection import KafkaConnection
from streams.settings import Settings


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


class TestKafkaConnection:
    def test_plaintext_by_default(self):
        """No security settings: plaintext, no Faust credentials."""
        connection = KafkaConnection.from_settings(settings(), "a:9092,b:9092")
        assert connection.client_options() == {"bootstrap_servers": ["a:9092", "b:9092"], "security_protocol": "PLAINTEXT"}
        assert connection.faust_credentials() is None
        assert connection.faust_broker_urls() == ["kafka://a:9092", "kafka://b:9092"]

    def test_sasl_scram_over_tls(self, tmp_path):
        """SASL_SSL with SCRAM: kafka-python gets mechanism, user, password and CA; Faust gets SASL credentials."""
        import subprocess

        ca = tmp_path / "ca.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "k.pem"),
                        "-out", str(ca), "-days", "1", "-subj", "/CN=test"], check=True, capture_output=True)
        configured = settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                              kafka_sasl_username="safeguard", kafka_sasl_password="s3cret", kafka_ssl_cafile=ca)
        connection = KafkaConnection.from_settings(configured, "kafka-1:9093")
        options = connection.client_options()
        assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "SCRAM-SHA-512"
        assert options["sasl_plain_username"] == "safeguard" and options["sasl_plain_password"] == "s3cret"
        assert options["ssl_cafile"] == str(ca)
        credentials = connection.faust_credentials()
        assert isinstance(credentials, faust.SASLCredentials) and credentials.mechanism.value == "SCRAM-SHA-512"
        assert credentials.ssl_context is not None
        assert "s3cret" not in repr(connection) and "s3cret" not in repr(configured)

    def test_sasl_without_credentials_is_refused(self):
        """Asking for SASL without mechanism, user and password is a settings error, not a silent plaintext."""
        with pytest.raises(ValidationError, match="needs kafka_sasl_mechanism"):
            settings(kafka_security_protocol="SASL_SSL")
