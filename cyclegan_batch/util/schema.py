"""A config checked against a JSON schema, one line per problem naming the key (the workflow's config check).

jsonschema is the workflow's dependency, not the CLI's: it is imported only when a check runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def config_errors(config: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """One line per schema violation, naming the key: "train.preset: 'big' is not one of [...]"."""
    from jsonschema import Draft202012Validator  # the workflow's dependency, not the CLI's

    lines = []
    for error in sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: list(map(str, e.path))):
        key = ".".join(str(part) for part in error.path) or "(top level)"
        # A regex or "any of" mismatch says little; the closest description names the allowed values.
        hint = _description(schema, list(error.schema_path)[:-1]) if error.validator in ("pattern", "oneOf") else ""
        lines.append(f"{key}: {error.message}" + (f" ({hint})" if hint else ""))
    return lines


def _description(schema: dict[str, Any], schema_path: list[str | int]) -> str:
    """The last `description` met walking from the schema's root down `schema_path`, root excluded."""
    texts = [
        node["description"].strip()
        for node in _nodes_on_path(schema, schema_path)
        if isinstance(node, dict) and isinstance(node.get("description"), str)
    ]
    return texts[-1] if texts else ""


def _nodes_on_path(schema: dict[str, Any], schema_path: list[str | int]) -> Iterator[Any]:
    """Each schema node below the root on `schema_path`, following local `$ref`s (jsonschema omits them)."""
    node: Any = schema
    for part in schema_path:
        try:
            while isinstance(node, dict) and part not in node and "$ref" in node:
                target: Any = schema
                for step in node["$ref"].removeprefix("#/").split("/"):
                    target = target[step]
                node = target
                yield node
            node = node[part]
        except (KeyError, IndexError, TypeError):  # a keyword or reference this walk does not know: stop there
            return
        yield node
