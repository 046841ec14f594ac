"""The snapshot of what a worker on the stored index holds in memory: it restores what a replay of the
whole log gives under this release's rules, and a body that cannot be trusted is refused with the field
at fault (never a name in it)."""

import json

import pytest

from streams.identity import statistics as statistics_module
from streams.identity.resolver import Resolver
from streams.identity.statistics import SnapshotUnreadable, restore, snapshot_of
from tests.unit.test_identity_shared_index import after, family_records, statistics


@pytest.fixture(scope="module")
def writer() -> Resolver:
    resolver = after(family_records(seed=67, people=1_500))
    resolver.keep_apart("P00000003", "P00000009")
    return resolver


class TestStatisticsSnapshot:
    def test_a_snapshot_restores_exactly_what_the_writer_held(self, writer):
        """Counts, the common names, the families a name is borne in, the numbering of persons, merges and
        the pairs kept apart."""
        assert writer.common_given_names and writer.absorbed_into  # the data exercises every part
        restored = Resolver()
        restore(restored, snapshot_of(writer))
        assert statistics(restored) == statistics(writer)
        assert restored._new_person() == writer._new_person()

    def test_the_common_names_follow_the_curated_data_of_the_release_that_restores(self, writer, monkeypatch):
        """A release whose curated data no longer knows a name: restored, it is not common, as in a replay of
        the whole log under that release (a snapshot keeping the old list would never heal)."""
        dropped = writer.common_given_names[0]
        original = statistics_module.known_given_name
        monkeypatch.setattr(statistics_module, "known_given_name", lambda name: name != dropped and original(name))
        restored = Resolver()
        restore(restored, snapshot_of(writer))
        assert set(restored.common_given_names) == set(writer.common_given_names) - {dropped}

    def test_a_snapshot_written_under_other_limits_is_refused(self, writer, monkeypatch):
        body = snapshot_of(writer)
        monkeypatch.setattr(statistics_module, "KNOWN_IN_INDEX", 6)
        with pytest.raises(SnapshotUnreadable, match="^limits: written under"):
            restore(Resolver(), body)

    @pytest.mark.parametrize("change, field", [
        (lambda body: body.update(version=2), "version"),
        (lambda body: body["given_counts"].update(megan=0), "given_counts"),
        (lambda body: body.pop("family_counts"), "family_counts"),
        (lambda body: body.update(shell="rm -rf /"), "shell"),
        (lambda body: body["apart"].append(["P1", "P2", "P3"]), "apart"),
        (lambda body: body["given_families"].update(megan=["a", "b", "c", "d", "e", "f"]), "given_families"),
        (lambda body: body.update(last_person_number=10**40), "last_person_number"),
        (lambda body: body.update(records_counted=3), "records_counted"),
        (lambda body: body["absorbed_into"].update(P1=None), "absorbed_into"),
    ])
    def test_a_body_that_cannot_be_trusted_is_refused_naming_the_field(self, writer, change, field):
        body = json.loads(snapshot_of(writer))
        change(body)
        with pytest.raises(SnapshotUnreadable, match=rf"^{field}: ") as refused:
            restore(Resolver(), json.dumps(body))
        assert "megan" not in str(refused.value)

    def test_not_json_is_refused(self):
        with pytest.raises(SnapshotUnreadable, match="body: "):
            restore(Resolver(), "\x80 not json")

    def test_a_snapshot_goes_into_a_fresh_resolver_only(self, writer):
        with pytest.raises(ValueError, match="fresh"):
            restore(writer, snapshot_of(writer))
