"""Routing-rule conditions: CEL (parsed by cel-python's grammar) type-checked and turned into one Python expression.

The generated module holds each rule as a plain function over ``RuleVars`` (``v``); nothing is parsed per
request. Only the part of CEL a routing condition needs is accepted — comparisons, ``&&``/``||``/``!``, ``?:``,
arithmetic, ``in``, list literals, ``headers["x"]``/``params["x"]``, ``size()`` and the string methods
``startsWith``/``endsWith``/``contains``/``matches`` — and anything else is an error with its position.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from bifrostc.runtime.rules import COSTLY, VARIABLES, VarType


@dataclass(frozen=True)
class CelError(Exception):
    """A problem at 1-based ``line``/``col`` inside the expression text."""

    message: str
    line: int = 1
    col: int = 1
    hint: str | None = None


@dataclass(frozen=True)
class Compiled:
    python: str  # one expression over ``v`` (a RuleVars)
    type: VarType
    reads: frozenset[str] = frozenset()  # the costly variables it names (runtime.rules.COSTLY; whole condition)
    patterns: tuple[str, ...] = ()  # matches() literals, compiled once as the function's _p0, _p1... (see plan_rules)


_NUMERIC = frozenset({"int", "double"})
_COMPARE = {"relation_lt": "<", "relation_le": "<=", "relation_gt": ">", "relation_ge": ">="}
_EQUALITY = {"relation_eq": "==", "relation_ne": "!="}
_ARITH = {"addition_add": "+", "addition_sub": "-", "multiplication_mul": "*", "multiplication_mod": "%"}
_STRING_METHODS = {"startsWith": "startswith", "endsWith": "endswith"}


def compile_condition(source: str) -> Compiled:
    """``input_tokens > 60000`` -> ``Compiled("(v.input_tokens > 60000)", "bool")``; raises CelError."""
    from celpy.celparser import CELParseError, CELParser  # bifrostc's one user of cel-python: the compiler

    if not source.strip():
        raise CelError("the condition is empty", hint="write a CEL expression such as input_tokens > 60000")
    try:
        tree = CELParser().parse(source)
    except CELParseError as exc:
        raise _syntax_error(source, exc) from None
    transpiler = _Transpiler()
    compiled = transpiler.expr(tree)
    if compiled.type not in ("bool", "dyn"):
        raise CelError(f"the condition is {_a(compiled.type)}, not a bool", hint="compare it, e.g. messages > 10")
    return dataclasses.replace(
        compiled, reads=frozenset(transpiler.names & COSTLY), patterns=tuple(transpiler.patterns)
    )


def function_source(function: str, python: str, patterns: tuple[str, ...] = ()) -> str:
    """The function out/routing.py holds for a condition; each matches() literal is compiled once, at import, as a
    default argument (``_p0``...), so a request does not look the pattern up in re's cache."""
    params = "".join(f", _p{i}: _re.Pattern[str] = _re.compile({p})" for i, p in enumerate(patterns))
    return f"def {function}(v: RuleVars{params}) -> bool:\n    return {python}\n"


def _syntax_error(source: str, exc: Exception) -> CelError:
    line, col = int(getattr(exc, "line", None) or 1), int(getattr(exc, "column", None) or 1)
    cause = exc.__cause__ or exc.__context__
    token = getattr(cause, "token", None)
    if token is not None and getattr(token, "type", "") == "$END":
        lines = source.splitlines() or [""]
        return CelError("syntax error: the expression ends too early", len(lines), len(lines[-1]) + 1,
                        "complete the last operator or close the bracket")  # fmt: skip
    if token is not None:
        return CelError(f"syntax error: unexpected '{token}'", line, col, "check the operators and brackets around it")
    lines = source.splitlines() or [""]
    char = lines[line - 1][col - 1 : col] if line <= len(lines) else ""
    hint = "strings are quoted with \" or '; close every quote" if char in "\"'" else "CEL uses && || ! == != < > in"
    return CelError(f"syntax error: unexpected character {char!r}" if char else "syntax error", line, col, hint)


def _position(node: Any) -> tuple[int, int]:
    """The first token's position in a parse subtree."""
    if hasattr(node, "line") and hasattr(node, "column") and not hasattr(node, "children"):
        return int(node.line or 1), int(node.column or 1)
    for child in getattr(node, "children", ()):
        if child is not None:
            found = _position(child)
            if found != (0, 0):
                return found
    return (0, 0)


def _fail(node: Any, message: str, hint: str | None = None) -> CelError:
    line, col = _position(node)
    return CelError(message, max(line, 1), max(col, 1), hint)


class _Transpiler:
    def __init__(self) -> None:
        self.names: set[str] = set()  # the variables the condition names
        self.patterns: list[str] = []  # the Python literal of each matches() pattern written as a string literal

    def expr(self, node: Any) -> Compiled:
        kind = node.data
        kids = [k for k in node.children if k is not None]
        handler = getattr(self, "_" + kind, None)
        if handler is not None:
            result: Compiled = handler(node, kids)
            return result
        if len(kids) == 1:  # pass-through levels of the grammar (expr, relation, addition, member, ...)
            return self.expr(kids[0])
        raise _fail(node, f"'{kind}' is not supported in a routing condition")

    # --- logic -------------------------------------------------------------------------------------
    def _expr(self, node: Any, kids: list[Any]) -> Compiled:
        if len(kids) == 1:
            return self.expr(kids[0])
        cond, then, other = (self.expr(k) for k in kids)
        self._want(kids[0], cond, "bool", "the ?: condition")
        kind = then.type if then.type == other.type else "dyn"
        return Compiled(f"({then.python} if {cond.python} else {other.python})", kind)

    def _conditionalor(self, node: Any, kids: list[Any]) -> Compiled:
        return self._logic(kids, "or", "||")

    def _conditionaland(self, node: Any, kids: list[Any]) -> Compiled:
        return self._logic(kids, "and", "&&")

    def _logic(self, kids: list[Any], word: str, symbol: str) -> Compiled:
        if len(kids) == 1:
            return self.expr(kids[0])
        left, right = self.expr(kids[0]), self.expr(kids[1])
        self._want(kids[0], left, "bool", f"the left side of {symbol}")
        self._want(kids[1], right, "bool", f"the right side of {symbol}")
        return Compiled(f"({left.python} {word} {right.python})", "bool")

    def _unary(self, node: Any, kids: list[Any]) -> Compiled:
        if len(kids) == 1:
            return self.expr(kids[0])
        op, operand = kids[0].data, self.expr(kids[1])
        if op == "unary_not":
            self._want(kids[1], operand, "bool", "the operand of !")
            return Compiled(f"(not {operand.python})", "bool")
        if operand.type not in _NUMERIC | {"dyn"}:
            raise _fail(kids[1], f"cannot negate a {operand.type}")
        return Compiled(f"(-{operand.python})", operand.type)

    # --- relations and arithmetic ---------------------------------------------------------------------
    def _relation(self, node: Any, kids: list[Any]) -> Compiled:
        if len(kids) == 1:
            return self.expr(kids[0])
        op_node, right_node = kids
        left_node = op_node.children[0]
        left, right, op = self.expr(left_node), self.expr(right_node), op_node.data
        if op == "relation_in":
            return self._in(right_node, left, right)
        if op in _EQUALITY:
            self._comparable(right_node, left, right, _EQUALITY[op])
            return Compiled(f"({left.python} {_EQUALITY[op]} {right.python})", "bool")
        self._comparable(right_node, left, right, _COMPARE[op])
        if left.type not in _NUMERIC | {"string", "dyn"}:
            raise _fail(left_node, f"cannot order a {left.type} with {_COMPARE[op]}")
        return Compiled(f"({left.python} {_COMPARE[op]} {right.python})", "bool")

    def _in(self, where: Any, item: Compiled, container: Compiled) -> Compiled:
        if container.type == "list":
            if item.type not in ("string", "dyn"):
                raise _fail(where, f"'in' a list of strings needs a string, not {_a(item.type)}")
        elif container.type == "map":
            if item.type not in ("string", "dyn"):
                raise _fail(where, f"'in' a map tests its keys, which are strings, not {_a(item.type)}")
        elif container.type == "string":
            raise _fail(where, "'in' needs a list or a map", 'for a substring use model.contains("…")')
        elif container.type != "dyn":
            raise _fail(where, f"'in' needs a list or a map, not a {container.type}")
        return Compiled(f"({item.python} in {container.python})", "bool")

    def _comparable(self, where: Any, left: Compiled, right: Compiled, op: str) -> None:
        if "dyn" in (left.type, right.type) or left.type == right.type or "null" in (left.type, right.type):
            return
        if left.type in _NUMERIC and right.type in _NUMERIC:
            return
        raise _fail(where, f"cannot compare {_a(left.type)} with {_a(right.type)} using {op}", _compare_hint(right))

    def _addition(self, node: Any, kids: list[Any]) -> Compiled:
        return self._arith(node, kids)

    def _multiplication(self, node: Any, kids: list[Any]) -> Compiled:
        return self._arith(node, kids)

    def _arith(self, node: Any, kids: list[Any]) -> Compiled:
        if len(kids) == 1:
            return self.expr(kids[0])
        op_node, right_node = kids
        left, right = self.expr(op_node.children[0]), self.expr(right_node)
        op = op_node.data
        if op == "addition_add" and left.type == right.type == "string":
            return Compiled(f"({left.python} + {right.python})", "string")
        for side, value in ((op_node.children[0], left), (right_node, right)):
            if value.type not in _NUMERIC | {"dyn"}:
                raise _fail(side, f"arithmetic needs numbers, not {_a(value.type)}")
        kind = "double" if "double" in (left.type, right.type) else left.type
        if op == "multiplication_div":  # CEL's int division truncates; Python's // floors
            text = f"int({left.python} / {right.python})" if kind == "int" else f"({left.python} / {right.python})"
            return Compiled(text, kind)
        return Compiled(f"({left.python} {_ARITH[op]} {right.python})", kind)

    # --- members, calls, primaries ---------------------------------------------------------------------
    def _member_index(self, node: Any, kids: list[Any]) -> Compiled:
        target, index = self.expr(kids[0]), self.expr(kids[1])
        if target.type == "map":
            if index.type not in ("string", "dyn"):
                raise _fail(kids[1], f"a map is indexed by a string, not a {index.type}")
            if target.python == "v.headers":  # header names are lower-cased; a missing header is ""
                name = index.python.lower() if index.python.startswith('"') else f"str({index.python}).lower()"
                return Compiled(f"v.headers.get({name}, '')", "string")
            return Compiled(f"{target.python}.get({index.python})", "dyn")
        if target.type == "list":
            if index.type not in ("int", "dyn"):
                raise _fail(kids[1], f"a list is indexed by an int, not a {index.type}")
            return Compiled(f"{target.python}[{index.python}]", "string")
        raise _fail(kids[0], f"a {target.type} cannot be indexed")

    def _member_dot_arg(self, node: Any, kids: list[Any]) -> Compiled:
        target_node, name = kids[0], str(kids[1])
        args = self._args(kids[2] if len(kids) > 2 else None)
        target = self.expr(target_node)
        if name == "size" and not args:
            return self._size(target_node, target)
        if target.type not in ("string", "dyn"):
            raise _fail(target_node, f"{name}() is a string method; this is a {target.type}")
        if name in ("startsWith", "endsWith", "contains", "matches"):
            if len(args) != 1 or args[0].type not in ("string", "dyn"):
                raise _fail(target_node, f"{name}() takes one string")
            arg = args[0].python
            if name == "contains":
                return Compiled(f"({arg} in {target.python})", "bool")
            if name == "matches" and arg.startswith('"'):  # a literal: checked here, compiled once
                try:
                    re.compile(json.loads(arg))
                except re.error as exc:
                    raise _fail(
                        kids[2], f"matches(): bad regular expression: {exc}", "see Python's re syntax"
                    ) from None
                self.patterns.append(arg)
                return Compiled(f"(_p{len(self.patterns) - 1}.search({target.python}) is not None)", "bool")
            if name == "matches":
                return Compiled(f"(_re.search({arg}, {target.python}) is not None)", "bool")
            return Compiled(f"{target.python}.{_STRING_METHODS[name]}({arg})", "bool")
        raise _fail(kids[1], f"unknown method '{name}'", "use startsWith, endsWith, contains, matches or size")

    def _member_dot(self, node: Any, kids: list[Any]) -> Compiled:
        raise _fail(kids[1], f"field selection '.{kids[1]}' is not supported", 'index maps instead: headers["x-tier"]')

    def _ident_arg(self, node: Any, kids: list[Any]) -> Compiled:
        name = str(kids[0])
        args = self._args(kids[1] if len(kids) > 1 else None)
        if name == "size" and len(args) == 1:
            return self._size(kids[1], args[0])
        raise _fail(kids[0], f"unknown function '{name}'", "the functions are size(x) and the string methods")

    def _size(self, where: Any, value: Compiled) -> Compiled:
        if value.type not in ("string", "list", "map", "dyn"):
            raise _fail(where, f"size() needs a string, list or map, not a {value.type}")
        return Compiled(f"len({value.python})", "int")

    def _args(self, exprlist: Any) -> list[Compiled]:
        if exprlist is None:
            return []
        return [self.expr(k) for k in exprlist.children if k is not None]

    def _ident(self, node: Any, kids: list[Any]) -> Compiled:
        name = str(kids[0])
        kind = VARIABLES.get(name)
        if kind is None:
            from bifrostc.compiler.diagnostics import did_you_mean

            hint = "variables: " + ", ".join(sorted(VARIABLES))
            raise _fail(kids[0], f"unknown variable '{name}'.{did_you_mean(name, VARIABLES)}", hint)
        self.names.add(name)
        return Compiled(f"v.{name}", kind)

    def _paren_expr(self, node: Any, kids: list[Any]) -> Compiled:
        inner = self.expr(kids[0])
        return Compiled(f"({inner.python})", inner.type)

    def _list_lit(self, node: Any, kids: list[Any]) -> Compiled:
        items = self._args(kids[0] if kids else None)
        for item, child in zip(items, kids[0].children if kids else (), strict=False):
            if item.type not in ("string", "dyn"):
                raise _fail(child, f"list literals hold strings here, not a {item.type}")
        inner = ", ".join(i.python for i in items)
        return Compiled(f"({inner},)" if len(items) == 1 else f"({inner})", "list")

    def _map_lit(self, node: Any, kids: list[Any]) -> Compiled:
        raise _fail(node, "map literals are not supported in a routing condition")

    def _literal(self, node: Any, kids: list[Any]) -> Compiled:
        token = kids[0]
        text, kind = str(token), token.type
        if kind == "INT_LIT":
            return Compiled(str(int(text, 0) if not text.lstrip("-").startswith("0x") else int(text, 16)), "int")
        if kind == "UINT_LIT":
            return Compiled(str(int(text[:-1], 0)), "int")
        if kind == "FLOAT_LIT":
            return Compiled(repr(float(text)), "double")
        if kind == "BOOL_LIT":
            return Compiled("True" if text == "true" else "False", "bool")
        if kind == "NULL_LIT":
            return Compiled("None", "null")
        if kind == "STRING_LIT":
            return Compiled(json.dumps(_string_value(token, text)), "string")
        raise _fail(token, f"{kind.lower().replace('_lit', '')} literals are not supported in a routing condition")

    @staticmethod
    def _want(where: Any, value: Compiled, kind: VarType, what: str) -> None:
        if value.type not in (kind, "dyn"):
            raise _fail(where, f"{what} must be {_a(kind)}, not {_a(value.type)}")


def _string_value(token: Any, text: str) -> str:
    raw = text[0] in "rR"
    body = text[2:-1] if raw else text[1:-1]
    if raw:
        return body
    try:
        decoded: str = body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        raise _fail(token, "bad escape in a string literal") from None
    return decoded


def _compare_hint(right: Compiled) -> str | None:
    if right.type == "string" and re.fullmatch(r'"\d+[kKmM]"', right.python):
        return "write the number itself, e.g. 60000, not a string"
    return None


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind
