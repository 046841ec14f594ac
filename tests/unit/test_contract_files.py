"""The committed JSON Schemas and AsyncAPI document match the models (regenerate: `make schemas`)."""

import json

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from schemas import EVENT_TYPES
from schemas.examples import EXAMPLES
from schemas.generate import ASYNCAPI_FILE, JSON_SCHEMA_DIR, expected_files, message_key


def local_refs(node):
    """Every "#..." $ref string in a JSON document (instance examples included: none is expected there)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#"):
                yield value
            else:
                yield from local_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from local_refs(item)


def resolve(document: dict, ref: str):
    """Follows a "#/a/b" JSON pointer from the document root; KeyError when it points at nothing."""
    node = document
    for token in ref.removeprefix("#/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


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

    def test_every_asyncapi_reference_resolves_from_the_document_root(self):
        """No "#/$defs/..." is left inside a payload: each local $ref points at something in the document."""
        document = json.loads(ASYNCAPI_FILE.read_text())
        dangling = []
        for ref in set(local_refs(document)):
            try:
                resolve(document, ref)
            except (KeyError, IndexError, ValueError):
                dangling.append(ref)
        assert dangling == [], f"references that resolve to nothing: {sorted(dangling)}"
        for message in document["components"]["messages"].values():
            assert not {"$defs", "$id", "$schema"} & set(message["payload"]), message["name"]

    @pytest.mark.parametrize("event_type", EVENT_TYPES)
    def test_examples_validate_against_the_asyncapi_payload(self, event_type):
        """Each message payload, with its references into components/schemas, still accepts the example."""
        document = json.loads(ASYNCAPI_FILE.read_text())
        registry = Registry().with_resource("urn:test:asyncapi", Resource(document, DRAFT202012))
        pointer = f"urn:test:asyncapi#/components/messages/{message_key(event_type)}/payload"
        validator = jsonschema.Draft202012Validator({"$ref": pointer}, registry=registry)
        unresolvable = None
        try:
            validator.validate(EXAMPLES[event_type])
        except Unresolvable as error:  # its message quotes the whole document: keep only the start
            unresolvable = str(error)[:120]
        assert unresolvable is None, f"{event_type} payload: {unresolvable}"
        with pytest.raises(jsonschema.ValidationError):  # a referenced definition is really used
            validator.validate(dict(EXAMPLES[event_type], source=dict(EXAMPLES[event_type]["source"], agency="pirates")))
