"""Hoisting pydantic's per-schema $defs into one AsyncAPI components/schemas map (schemas.components)."""

import copy

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from schemas.components import hoist_defs

ROLE = {"enum": ["subject", "victim"], "type": "string"}
OTHER_ROLE = {"enum": ["officer", "nurse"], "type": "string"}


def person_schema(role: dict) -> dict:
    """A pydantic-shaped schema whose Person refers to Role, which in turn is given by ``role``."""
    return {
        "$defs": {"Person": {"properties": {"role": {"$ref": "#/$defs/Role"}}, "type": "object"}, "Role": role},
        "properties": {"person": {"$ref": "#/$defs/Person"}},
        "type": "object",
    }


def validator(hoisted: dict, components: dict, owner: str) -> jsonschema.Draft202012Validator:
    """Validates against ``owner``'s hoisted schema placed in a document as AsyncAPI would place it."""
    document = {"components": {"schemas": components}, "payloads": hoisted}
    registry = Registry().with_resource("urn:test:doc", Resource(document, DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": f"urn:test:doc#/payloads/{owner}"}, registry=registry)


class TestHoisting:
    """Definitions move to components/schemas and every reference follows them."""

    def test_refs_are_rewritten_and_defs_removed(self):
        """`#/$defs/X` becomes `#/components/schemas/X`, in payloads and inside definitions alike."""
        hoisted, components = hoist_defs({"a": person_schema(ROLE)})
        assert "$defs" not in hoisted["a"]
        assert hoisted["a"]["properties"]["person"] == {"$ref": "#/components/schemas/Person"}
        assert components["Person"]["properties"]["role"] == {"$ref": "#/components/schemas/Role"}
        assert components["Role"] == ROLE

    def test_identical_definitions_are_shared_once(self):
        """Two owners with the same Person and Role get one component each, under the pydantic name."""
        hoisted, components = hoist_defs({"a": person_schema(ROLE), "b": person_schema(copy.deepcopy(ROLE))})
        assert sorted(components) == ["Person", "Role"]
        assert hoisted["a"] == hoisted["b"]

    def test_inputs_are_not_modified(self):
        """The per-event JSON Schemas keep their own $defs (they are written out as they are)."""
        schemas = {"a": person_schema(ROLE)}
        before = copy.deepcopy(schemas)
        hoist_defs(schemas)
        assert schemas == before

    def test_instance_data_is_not_rewritten(self):
        """A "$ref" key inside examples, default, const or enum is data, not a reference."""
        schema = person_schema(ROLE) | {"examples": [{"$ref": "#/$defs/Role"}], "default": {"$ref": "#/x"}}
        hoisted, _ = hoist_defs({"a": schema})
        assert hoisted["a"]["examples"] == [{"$ref": "#/$defs/Role"}]
        assert hoisted["a"]["default"] == {"$ref": "#/x"}

    def test_hoisted_schema_validates_as_the_original(self):
        """Placed in a document, the hoisted schema accepts and refuses what the self-contained one does."""
        hoisted, components = hoist_defs({"a": person_schema(ROLE)})
        check = validator(hoisted, components, "a")
        assert check.is_valid({"person": {"role": "victim"}})
        assert not check.is_valid({"person": {"role": "pirate"}})
        assert jsonschema.Draft202012Validator(person_schema(ROLE)).is_valid({"person": {"role": "victim"}})

    def test_recursive_definitions_terminate_and_are_shared(self):
        """A self-referring definition (a tree) is hoisted once and still refers to itself."""
        tree = {"properties": {"children": {"items": {"$ref": "#/$defs/Node"}, "type": "array"}}, "type": "object"}
        schema = {"$defs": {"Node": tree}, "properties": {"root": {"$ref": "#/$defs/Node"}}, "type": "object"}
        hoisted, components = hoist_defs({"a": schema, "b": copy.deepcopy(schema)})
        assert sorted(components) == ["Node"]
        assert components["Node"]["properties"]["children"]["items"] == {"$ref": "#/components/schemas/Node"}


class TestNameClashes:
    """One name standing for different definitions in different owners never lets a reference change meaning."""

    def test_different_definitions_with_one_name_are_kept_apart(self):
        """Each variant of Role is keyed `<owner>.Role`, and each owner refers to its own."""
        hoisted, components = hoist_defs({"police": person_schema(ROLE), "health": person_schema(OTHER_ROLE)})
        assert components["police.Role"] == ROLE and components["health.Role"] == OTHER_ROLE
        assert "Role" not in components
        assert validator(hoisted, components, "police").is_valid({"person": {"role": "victim"}})
        assert validator(hoisted, components, "health").is_valid({"person": {"role": "nurse"}})
        assert not validator(hoisted, components, "health").is_valid({"person": {"role": "victim"}})

    def test_a_clash_spreads_to_definitions_that_refer_to_it(self):
        """Person is written the same in both owners but refers to different Roles, so it splits too."""
        _, components = hoist_defs({"police": person_schema(ROLE), "health": person_schema(OTHER_ROLE)})
        assert sorted(components) == ["health.Person", "health.Role", "police.Person", "police.Role"]
        assert components["health.Person"]["properties"]["role"] == {"$ref": "#/components/schemas/health.Role"}

    def test_variant_keys_name_the_first_owner_that_has_it(self):
        """Owners sharing a variant share its key, named after the first of them in sorted order."""
        _, components = hoist_defs({"c": person_schema(ROLE), "a": person_schema(OTHER_ROLE),
                                    "b": person_schema(copy.deepcopy(ROLE))})
        assert components["b.Role"] == ROLE and components["a.Role"] == OTHER_ROLE
        assert "c.Role" not in components


class TestRefusals:
    """A reference that could not be hoisted correctly raises instead of being left dangling."""

    def test_reference_to_an_undefined_definition(self):
        """`#/$defs/Missing` with no such definition at that root."""
        with pytest.raises(ValueError, match="Missing"):
            hoist_defs({"a": {"properties": {"x": {"$ref": "#/$defs/Missing"}}}})

    def test_local_reference_that_is_not_into_defs(self):
        """A JSON pointer elsewhere in the schema would point elsewhere once moved."""
        with pytest.raises(ValueError, match="#/properties/y"):
            hoist_defs({"a": {"properties": {"x": {"$ref": "#/properties/y"}, "y": {}}}})

    def test_nested_defs(self):
        """Pydantic puts every definition at the root; anything else is refused."""
        with pytest.raises(ValueError, match="nested"):
            hoist_defs({"a": {"$defs": {"A": {"$defs": {"B": {}}}}}})
