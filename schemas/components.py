"""Moves the ``$defs`` of several JSON Schemas into one shared AsyncAPI ``components/schemas`` map.

Inputs: JSON Schemas as pydantic emits them (definitions under ``$defs`` at their root, local
references only of the form ``#/$defs/<Name>``), keyed by an owner label (the AsyncAPI message key)
that is used only to tell apart definitions that share a name but differ.
Outputs: ``hoist_defs`` returns the schemas without ``$defs``, each ``#/$defs/<Name>`` rewritten to
``#/components/schemas/<Key>``, and the ``components/schemas`` map holding each definition once.
Guarantees: the inputs are not modified; definitions that are the same (same name, same content and,
recursively, the same definitions referred to, so recursive models are fine) share one key, their
pydantic name; when one name stands for different definitions in different owners, every variant is
keyed ``<owner>.<Name>`` instead, so no reference points at another owner's definition; a local
``$ref`` that is not ``#/$defs/<a name defined at that root>`` raises ``ValueError`` rather than being
left dangling; the keys chosen depend only on the inputs' content, not on their order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

DEFS_PREFIX = "#/$defs/"
COMPONENTS_PREFIX = "#/components/schemas/"
# Keywords whose values are instance data, not schemas: a "$ref" key inside them is not a reference.
DATA_KEYWORDS = frozenset({"const", "default", "enum", "example", "examples"})
# AsyncAPI 3.0: component keys must match this.
COMPONENT_KEY = re.compile(r"^[a-zA-Z0-9.\-_]+$")

Node = tuple[str, str]  # (owner, definition name)


def hoist_defs(schemas: Mapping[str, dict]) -> tuple[dict[str, dict], dict[str, dict]]:
    """Returns (schemas with references into components/schemas, the components/schemas map)."""
    definitions: dict[Node, Any] = {}
    for owner, schema in schemas.items():
        for name, body in schema.get("$defs", {}).items():
            definitions[(owner, name)] = body
    targets = {node: [_target(node[0], ref, definitions) for ref in _refs(body)]
               for node, body in definitions.items()}
    for owner, schema in schemas.items():
        for ref in _refs(_without_defs(schema)):
            _target(owner, ref, definitions)
    keys = _component_keys(_equivalence_classes(definitions, targets))

    def rewriter(owner: str) -> Callable[[str], str]:
        return lambda ref: COMPONENTS_PREFIX + keys[(owner, ref.removeprefix(DEFS_PREFIX))]

    components: dict[str, dict] = {}
    for node in sorted(definitions):
        components.setdefault(keys[node], _rewrite(definitions[node], rewriter(node[0])))
    hoisted = {owner: _rewrite(_without_defs(schema), rewriter(owner)) for owner, schema in schemas.items()}
    return hoisted, dict(sorted(components.items()))


def _without_defs(schema: dict) -> dict:
    return {key: value for key, value in schema.items() if key != "$defs"}


def _refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` string in a schema, in document order, outside instance-data keywords."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key == "$defs":
                raise ValueError("nested $defs are not supported: pydantic puts every definition at the root")
            elif key not in DATA_KEYWORDS:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _rewrite(node: Any, rewrite_ref: Callable[[str], str]) -> Any:
    """A deep copy of ``node`` with every local ``$ref`` (outside instance-data keywords) rewritten."""
    if isinstance(node, dict):
        return {key: (rewrite_ref(value) if key == "$ref" and isinstance(value, str) and value.startswith("#")
                      else value if key in DATA_KEYWORDS else _rewrite(value, rewrite_ref))
                for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite(item, rewrite_ref) for item in node]
    return node


def _target(owner: str, ref: str, definitions: Mapping[Node, Any]) -> Node | None:
    """The definition a reference points at; ``None`` for a non-local reference (left as it is)."""
    if not ref.startswith("#"):
        return None
    name = ref.removeprefix(DEFS_PREFIX)
    if not ref.startswith(DEFS_PREFIX) or (owner, name) not in definitions:
        raise ValueError(f"{owner}: cannot hoist the reference {ref!r}: not one of its own #/$defs/<Name>")
    return (owner, name)


def _equivalence_classes(definitions: Mapping[Node, Any], targets: Mapping[Node, list]) -> dict[Node, int]:
    """Partitions definitions into classes of interchangeable ones (partition refinement, as for bisimulation).

    Start from (name, content as written); split a class while its members refer, position by position,
    to definitions in different classes; stop when no class splits.
    """
    colour = _number({node: (node[1], json.dumps(body, sort_keys=True)) for node, body in definitions.items()})
    while True:
        refined = _number({node: (colour[node], tuple(colour.get(t) if t else None for t in targets[node]))
                           for node in definitions})
        if len(set(refined.values())) == len(set(colour.values())):
            return refined
        colour = refined


def _number(labels: Mapping[Node, Any]) -> dict[Node, int]:
    numbers: dict[Any, int] = {}
    return {node: numbers.setdefault(label, len(numbers)) for node, label in labels.items()}


def _component_keys(classes: Mapping[Node, int]) -> dict[Node, str]:
    """Each definition's key: its name, or ``<owner>.<name>`` (first owner of its variant) if the name clashes."""
    variants: dict[str, dict[int, list[str]]] = {}
    for (owner, name), cls in classes.items():
        variants.setdefault(name, {}).setdefault(cls, []).append(owner)
    keys: dict[Node, str] = {}
    for name, by_class in variants.items():
        for owners in by_class.values():
            key = name if len(by_class) == 1 else f"{min(owners)}.{name}"
            keys.update({(owner, name): key for owner in owners})
    for key in set(keys.values()):
        if not COMPONENT_KEY.match(key):
            raise ValueError(f"{key!r} is not a valid AsyncAPI component key")
    plain = {name for name, by_class in variants.items() if len(by_class) == 1}
    qualified = set(keys.values()) - plain
    if plain & qualified:
        raise ValueError(f"component keys clash: {sorted(plain & qualified)}")
    return keys
