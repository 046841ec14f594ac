"""The snapshot of what a worker on the stored index holds in memory: it restores exactly that, and a
body that cannot be trusted is refused with the field at fault."""

import json

import pytest

from streams.identity.resolver import Resolver
from streams.identity.statistics import SnapshotUnreadable, restore, snapshot_of
from tests.unit.test_identity_shared_index import family_records, statistics


@pytest.fixture(scope="module")
def writer() -> Resolver:
    resolver = Resolver()
    for record in family_records(seed=67, people=1_500):
        resolver.resolve(record)
    resolver.keep_apart("P00000003", "P00000009")
    return resolver


class TestStatisticsSnapshot:
    def test_a_snapshot_restores_exactly_what_the_writer_held(self, writer):
        """Counts, the common names in the order they became common, the families a name is borne in, the
        numbering of persons, merges and the pairs kept apart."""
        assert writer.common_given_names and writer.absorbed_into  # the data exercises every part
        restored = Resolver()
        restore(restored, snapshot_of(writer))
        assert statistics(restored) == statistics(writer)
        assert restored._new_person() == writer._new_person()

    @pytest.mark.parametrize("change, field", [
        (lambda body: body.update(version=2), "version"),
        (lambda body: body["given_counts"].update(megan=0), "given_counts.megan"),
        (lambda body: body.pop("family_counts"), "family_counts"),
        (lambda body: body.update(shell="rm -rf /"), "shell"),
        (lambda body: body["apart"].append(["P1", "P2", "P3"]), "apart.1"),
        (lambda body: body["given_families"].update(megan=["a", "b", "c", "d", "e", "f"]), "given_families.megan"),
    ])
    def test_a_body_that_cannot_be_trusted_is_refused_naming_the_field(self, writer, change, field):
        body = json.loads(snapshot_of(writer))
        change(body)
        with pytest.raises(SnapshotUnreadable, match=rf"^{field.replace('.', '[.]')}: "):
            restore(Resolver(), json.dumps(body))

    def test_not_json_is_refused(self):
        with pytest.raises(SnapshotUnreadable, match="body: "):
            restore(Resolver(), "\x80 not json")

    def test_a_snapshot_goes_into_a_fresh_resolver_only(self, writer):
        with pytest.raises(ValueError, match="fresh"):
            restore(writer, snapshot_of(writer))
