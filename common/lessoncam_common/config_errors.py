"""Config mistakes said the same way on the unit and the server: one line per mistake, naming
the key as it is written in the TOML file, with a "did you mean" for a misspelt key."""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping, Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel


class ConfigError(ValueError):
    """The configuration is wrong; ``problems`` holds one readable line per mistake."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def report(self) -> str:
        """What a command prints before it exits: where, then each mistake on its own line."""
        return "\n".join(
            [f"configuration error in {self.source}:", *(f"  - {p}" for p in self.problems)]
        )


def describe(error: Mapping[str, Any], model: type[BaseModel]) -> str:
    """One pydantic error (from ``ValidationError.errors()`` on ``model``) as a line people
    read: ``[table] key = value: what is wrong`` or ``[table] key: unknown key; did you mean``.
    """
    loc = list(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if not loc:
        return message  # a rule about the whole file
    key = key_name(loc)
    if error["type"] == "extra_forbidden":
        known = known_keys(model, [str(p) for p in loc[:-1]])
        hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
        fix = f"did you mean '{hint[0]}'?" if hint else f"known keys here: {', '.join(known)}"
        return f"{key}: unknown key; {fix}"
    return f"{key} = {error.get('input')!r}: {message}"


def key_name(loc: Sequence[str | int]) -> str:
    """A key as the TOML file spells it: ``[cameras.main] width``; inside a list of tables
    (``[[viewing_guide.tags]]``) the rest is dotted with the item's index, ``tags.0.colour``.
    """
    parts = [str(p) for p in loc]
    if len(parts) == 1:
        return parts[0]
    first_index = next((i for i, p in enumerate(loc) if isinstance(p, int)), None)
    table_end = len(parts) - 1 if first_index is None else max(1, first_index - 1)
    return f"[{'.'.join(parts[:table_end])}] {'.'.join(parts[table_end:])}"


def known_keys(model: type[BaseModel], path: Sequence[str]) -> list[str]:
    """The keys allowed in the table at ``path`` (for "did you mean" hints); none when the
    keys there are names (a table of tables, such as ``[cameras.<name>]``)."""
    current = model
    parts = list(path)
    while parts:
        field = current.model_fields.get(parts.pop(0))
        if field is None:
            return []
        nested, keyed = _table_model(field.annotation)
        if nested is None:
            return []
        if keyed:  # a table of tables or a list of tables: a name or an index comes next
            if not parts:
                return []
            parts.pop(0)
        current = nested
    return sorted(current.model_fields)


def _table_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model of the table(s) a field holds, and whether they sit under names or indexes."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (Union, types.UnionType):
        for arg in args:
            model, keyed = _table_model(arg)
            if model is not None:
                return model, keyed
        return None, False
    if origin in (dict, list, tuple) and args:
        inner = args[-1] if origin is not tuple else args[0]
        model, _ = _table_model(inner)
        return model, model is not None
    return None, False
