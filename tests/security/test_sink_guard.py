"""The sink guard holds each delivery to its own rule's view, nested keys included."""

from __future__ import annotations

import pytest

from sinks.contract import SinkRefused
from tests.unit.test_sinks import delivery


def test_each_rule_is_held_to_its_own_view_nested_keys_included(services):
    """The probe: the guard checked top-level keys only, against the union of every view for the sink. Now a
    school notice may not carry the child's NHS number (the missing-from-education view's keys do not
    stretch to it), another rule's key, nor come from a rule that does not deliver to schools."""
    guard = services.sinks["education"]
    guard.check(delivery(school={"code": "6662005"}, child={"given_names": "Siân", "upn": "A123"}))
    with pytest.raises(SinkRefused, match=r"may not send child.\['nhs_number'\]"):
        guard.check(delivery(child={"given_names": "Siân", "nhs_number": "9434765919"}))
    with pytest.raises(SinkRefused, match=r"may not send \['episode_reference'\]"):
        guard.check(delivery(school={"code": "6662005"}, episode_reference="EP-1"))  # another rule's key
    with pytest.raises(SinkRefused, match="does not deliver to sink education"):
        guard.check(delivery(rule="ppn.health.summary", school={"code": "6662005"}))
