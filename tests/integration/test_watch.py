"""The deadline watch on the real pipeline: past-dated events breach their deadlines once, and only once."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from datetime import timedelta

import pytest

from tests.clock import example, now
from tests.integration.conftest import Instance, export, wait_for

pytestmark = pytest.mark.integration


def ago(days: float) -> str:
    return (now() - timedelta(days=days)).isoformat()


def child(source_id: str, nhs: str) -> dict:
    person = dict(example("missing.reported")["child"], source_person_id=source_id, nhs_number=nhs)
    return person


def watch_alerts(data_dir) -> Counter:
    return Counter((line["content"]["watch_rule"], line["content"]["reference"], line["recipient"], line["content"]["status"])
                   for line in export("alerts", data_dir) if line["rule"] == "watch.alerts.deadline")


@pytest.fixture
def watched(tmp_path):
    running = Instance(tmp_path / "var", extra_env={"SAFEGUARD_WATCH_INTERVAL_SECONDS": "1"}).start()
    yield running
    running.stop()


class TestDeadlineWatch:
    def test_rules_fire_once_not_when_met_and_not_again_after_a_restart(self, watched):
        """Overdue deadlines alert exactly once; met ones never; a killed worker adds no duplicate and loses none."""
        alone = child("CH-1", "9434765919")
        fine = child("CH-2", "4010232137")
        events = [
            # CH-1 goes missing three times in the last month, with no PPN for the latest, and no return interview.
            example("missing.reported", episode_reference="EP-1", child=alone, occurred_at=ago(20), recorded_at=ago(20),
                    last_seen_at=ago(20), ppn_reference="PPN-EP-1"),
            example("missing.reported", episode_reference="EP-2", child=alone, occurred_at=ago(10), recorded_at=ago(10),
                    last_seen_at=ago(10), ppn_reference="PPN-EP-2"),
            example("missing.reported", episode_reference="EP-3", child=alone, occurred_at=ago(4), recorded_at=ago(4),
                    last_seen_at=ago(4)),
            example("missing.returned", episode_reference="EP-3", child=alone, returned_at=ago(3.5), occurred_at=ago(3.5),
                    recorded_at=ago(3.5)),
            # CH-2: PPN in time, return interview in time.
            example("missing.reported", episode_reference="EP-9", child=fine, occurred_at=ago(5), recorded_at=ago(5),
                    last_seen_at=ago(5)),
            example("ppn.submitted", ppn_reference="PPN-EP-9", category="missing_child", missing_episode_reference="EP-9",
                    persons=[dict(fine, role="subject")], occurred_at=ago(4.9), recorded_at=ago(4.9)),
            example("missing.returned", episode_reference="EP-9", child=fine, returned_at=ago(4.8), occurred_at=ago(4.8),
                    recorded_at=ago(4.8)),
            example("return_interview.completed", episode_reference="EP-9", child=fine, completed_at=ago(4),
                    occurred_at=ago(4), recorded_at=ago(4)),
            example("referral.outcome", referral_reference="PPN-EP-9", decided_at=ago(4.5), occurred_at=ago(4.5),
                    recorded_at=ago(4.5)),
        ]
        assert watched.publish(events).returncode == 0
        expected = {
            ("missing_without_ppn", "EP-3", "DPP", "breached"),
            ("return_interview", "EP-3", "W06000023", "breached"),
            ("repeat_missing", "EP-3", "W06000023", "open"),
        }
        found = wait_for(lambda: (a := watch_alerts(watched.data_dir)) and set(a) >= expected and a, timeout=60,
                         what="the three CH-1 alerts")
        assert set(found) == expected, "a met deadline alerted, or an unexpected rule fired"
        assert max(found.values()) == 1

        [worker] = watched.runtime["worker_pids"]
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: watched.runtime["worker_pids"] != [worker], what="the worker restarted")
        late = example("ppn.submitted", ppn_reference="PPN-EP-3", category="missing_child", missing_episode_reference="EP-3",
                       persons=[dict(alone, role="subject")])
        assert watched.publish([late]).returncode == 0
        after = wait_for(lambda: (a := watch_alerts(watched.data_dir)) and len(a) == 4 and a, timeout=90,
                         what="the late PPN to resolve the missing alert")
        time.sleep(3)  # several more timer ticks on the restarted worker
        again = watch_alerts(watched.data_dir)
        assert again == after and max(again.values()) == 1
        assert ("missing_without_ppn", "EP-3", "DPP", "resolved") in again
