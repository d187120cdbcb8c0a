"""Render runtime config objects as Python source: constructor calls with only the non-default fields."""

from __future__ import annotations

import dataclasses
import json
import types
from typing import Any


class LiteralWriter:
    """Turns dataclass trees into source text, naming shared objects by constant and noting classes used."""

    def __init__(self) -> None:
        self.constants: dict[int, str] = {}  # id(object) -> constant name already defined above
        self.classes: set[str] = set()

    def name(self, obj: object, constant: str) -> None:
        self.constants[id(obj)] = constant

    def write(self, value: Any) -> str:
        if id(value) in self.constants and dataclasses.is_dataclass(value):
            return self.constants[id(value)]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._dataclass(value)
        if _is_rule_function(value):
            return str(value.__name__)  # a rule's function, defined above GATEWAY in the generated module
        if isinstance(value, str):
            return json.dumps(value, ensure_ascii=False)  # JSON string escapes are valid Python
        if isinstance(value, bool | int | float) or value is None:
            return repr(value)
        if isinstance(value, tuple):
            items = [self.write(item) for item in value]
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{self.write(k)}: {self.write(v)}" for k, v in value.items()) + "}"
        raise TypeError(f"cannot render {type(value).__name__} as a literal")

    def _dataclass(self, value: Any) -> str:
        cls = type(value)
        self.classes.add(cls.__name__)
        args = []
        for field in dataclasses.fields(value):
            current = getattr(value, field.name)
            if not _is_default(field, current):
                args.append(f"{field.name}={self.write(current)}")
        return f"{cls.__name__}({', '.join(args)})"


def _is_rule_function(value: object) -> bool:
    return isinstance(value, types.FunctionType)  # only rules' conditions are functions in the config tree


def _is_default(field: dataclasses.Field[Any], current: Any) -> bool:
    if field.default is not dataclasses.MISSING:
        return bool(current == field.default)
    if field.default_factory is not dataclasses.MISSING:
        return bool(current == field.default_factory())
    return False
