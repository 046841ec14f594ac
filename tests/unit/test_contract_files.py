"""The committed JSON Schemas and AsyncAPI document match the models (regenerate: `make schemas`)."""

import json

import jsonschema
import pytest

from schemas import EVENT_TYPES
from schemas.examples import EXAMPLES
from schemas.generate import ASYNCAPI_FILE, JSON_SCHEMA_DIR, expected_files


class TestCommittedContract:
    def test_committed_files_are_not_stale(self):
        """Every generated file is committed with exactly the generated content."""
        stale = [path.name for path, text in expected_files().items()
                 if not path.exists() or path.read_text(encoding="utf-8") != text]
        assert stale == [], f"stale contract files {stale}: run `make schemas`"

    @pytest.mark.parametrize("event_type", EVENT_TYPES)
    def test_examples_validate_against_the_published_json_schema(self, event_type):
        """What producers validate against (the JSON Schema) accepts the published example."""
        schema = json.loads((JSON_SCHEMA_DIR / f"{event_type}.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator(schema).validate(EXAMPLES[event_type])

    def test_json_schema_forbids_unknown_fields(self):
        """Producers in other languages see extra='forbid' too."""
        schema = json.loads((JSON_SCHEMA_DIR / "ppn.submitted.json").read_text())
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(dict(EXAMPLES["ppn.submitted"], nickname="x"), schema)

    def test_asyncapi_lists_every_event_type_on_a_topic(self):
        """The AsyncAPI document names each event type once, on its inbound topic."""
        document = json.loads(ASYNCAPI_FILE.read_text())
        assert document["asyncapi"].startswith("3.")
        assert sorted(m["name"] for m in document["components"]["messages"].values()) == sorted(EVENT_TYPES)
        assert {c["address"] for c in document["channels"].values()} >= {"safeguarding.ppn", "safeguarding.cpr"}
