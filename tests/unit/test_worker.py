"""The worker process's Faust setup: logging stays at the configured level."""

from __future__ import annotations

import logging

import faust

from streams.runtime.worker import broker_address, make_worker
from streams.settings import Settings


def test_root_logger_is_not_lowered_to_debug_by_the_worker():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    root.setLevel(logging.WARNING)
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    try:
        worker = make_worker(faust.App("test-worker-logging", broker="kafka://127.0.0.1:1"), Settings(log_level="WARNING"))
        worker.on_setup_root_logger(root, logging.WARNING)
        assert root.level == logging.WARNING
        assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
        assert [type(h).__name__ for h in root.handlers if type(h).__name__ == "SpinnerHandler"] == []
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


def test_broker_address_drops_the_scheme():
    assert broker_address("kafka://a:1,b:2") == "a:1,b:2"
