"""Data at rest: the data directory, the database and the producer master key are private to the service user."""

from __future__ import annotations

import stat

from sinks.store import make_engine
from streams.access.credentials import MASTER_KEY_FILE, ProducerKeys
from streams.settings import Settings


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_directory_and_database_are_private(tmp_path):
    """The probe: `safeguard.db` was world-readable. Now the directory is 0700 and the file 0600 from the start."""
    data_dir = tmp_path / "var"
    make_engine(f"sqlite:///{data_dir / 'safeguard.db'}").dispose()
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "safeguard.db") == 0o600


def test_the_producer_master_key_is_private_and_shared_by_every_process(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    first, second = ProducerKeys.from_settings(settings), ProducerKeys.from_settings(settings)
    assert mode(tmp_path / MASTER_KEY_FILE) == 0o600 and mode((tmp_path / MASTER_KEY_FILE).parent) == 0o700
    from streams.access.credentials import Producer

    assert first.key_for(Producer("police", "DPP")) == second.key_for(Producer("police", "DPP"))
    assert first.key_for(Producer("police", "DPP")) != first.key_for(Producer("police", "XYZ"))
