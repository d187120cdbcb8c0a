"""Broken rule conditions: `bifrostc validate` names file:line:column inside the expression, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bifrostc.compiler.cli import main

HEAD = """providers:
  mock: {type: mock}
models:
  echo: {target: mock/echo}
rules:
"""
# (the rule's line, the diagnostic expected for it: "line:col: error: ... message")
BROKEN = [
    ("""  - {name: a, when: 'input_tokens > "60k"', route: echo}""",
     "6:37: error: rules[0].when: rule 'a': cannot compare an int with a string using >"),
    ("""  - {name: b, when: 'input_tokns > 5', route: echo}""",
     "7:22: error: rules[1].when: rule 'b': unknown variable 'input_tokns'. Did you mean 'input_tokens'?"),
    ("""  - {name: c, when: 'stream &&', route: echo}""",
     "8:31: error: rules[2].when: rule 'c': syntax error: the expression ends too early"),
    ("""  - {name: d, when: 'budget_used > "80%"', route: echo}""",
     "9:36: error: rules[3].when: rule 'd': cannot compare a double with a string using >"),
    ("""  - {name: e, when: 'size(model) + "x" > 3', route: echo}""",
     "10:36: error: rules[4].when: rule 'e': arithmetic needs numbers, not a string"),
    ("""  - {name: h, when: 'model == "a', route: echo}""",
     "11:31: error: rules[5].when: rule 'h': syntax error: unexpected character '\"'"),
    ("""  - {name: i, when: '(stream', route: echo}""",
     "12:29: error: rules[6].when: rule 'i': syntax error: the expression ends too early"),
    ("""  - {name: j, when: 'model.lower() == "x"', route: echo}""",
     "13:28: error: rules[7].when: rule 'j': unknown method 'lower'"),
    ("""  - {name: k, when: 'messages', route: echo}""",
     "14:22: error: rules[8].when: rule 'k': the condition is an int, not a bool"),
    ("""  - {name: l, when: 'now() > 3', route: echo}""",
     "15:22: error: rules[9].when: rule 'l': unknown function 'now'"),
    ("""  - {name: m, when: '5 in tools', route: echo}""",
     "16:27: error: rules[10].when: rule 'm': 'in' a list of strings needs a string, not an int"),
    ("""  - {name: n, when: '"x" in model', route: echo}""",
     "17:29: error: rules[11].when: rule 'n': 'in' needs a list or a map"),
    ("""  - {name: o, when: '', route: echo}""", "18:22: error: rules[12].when: rule 'o': the condition is empty"),
    ("""  - {name: p, when: 'headers.x', route: echo}""",
     "19:30: error: rules[13].when: rule 'p': field selection '.x' is not supported"),
    ("""  - {name: q, when: "stream", route: ech}""",
     "20:38: error: rules[14].route: unknown route 'ech'. Did you mean 'echo'?"),
    ("""  - name: r\n    when: tier == 3""",
     "22:19: error: rules[15].when: rule 'r': cannot compare a string with an int"),
    ("""  - {name: s, when: 'model.matches("(")', route: echo}""",  # checked at build: compiled once, at import
     "23:36: error: rules[16].when: rule 's': matches(): bad regular expression: missing ), unterminated subpattern"),
]  # fmt: skip


def test_each_broken_condition_is_reported_at_its_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("gateway.yaml").write_text(HEAD + "\n".join(line for line, _ in BROKEN) + "\n")
    assert main(["validate", "gateway.yaml"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for _, expected in BROKEN:
        assert f"gateway.yaml:{expected}" in err, expected
    assert len(BROKEN) >= 12


def test_a_rule_after_one_that_always_matches_warns_and_strict_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    rules = "  - {name: all, when: 'true', route: echo}\n  - {name: never, when: 'stream', route: echo}\n"
    Path("gateway.yaml").write_text(HEAD + rules)
    assert main(["validate", "gateway.yaml"]) == 0
    assert "warning: rules[1].name: rule 'never' can never match: 'all' always does" in capsys.readouterr().err


def test_a_long_context_rule_sent_to_a_smaller_window_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OA", "x")
    Path("gateway.yaml").write_text(
        """providers:
  oa: {type: openai, api_key_env: OA}
models:
  small: {target: oa/gpt-4o}
  big: {target: oa/gpt-4.1}
  sized: {target: oa/gpt-4.1, context_window: 50000}
  unknown: {target: oa/house-model, context_fallbacks: [big], pricing: {input: 1, output: 1}}
claude_code:
  sonnet: small
  routing:
    long_context: {over_tokens: 150000, route: small}
rules:
  - {name: fine, when: input_tokens > 100000, route: big}
  - {name: own, when: stream && input_tokens >= 60000, route: sized}
  - {name: inline, when: input_tokens > 20000, targets: [{provider: oa, model: gpt-3.5-turbo}]}
"""
    )
    assert main(["validate", "gateway.yaml"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (
        "gateway.yaml:11:19: warning: claude_code.routing.long_context: rule 'claude_code.long_context' selects"
        " prompts over 150000 tokens but route 'small' takes only 128000" in err
    )  # gpt-4o's window from the built-in table
    assert "rule 'own' selects prompts over 60000 tokens but route 'sized' takes only 50000" in err
    assert "rule 'inline' selects prompts over 20000 tokens but its targets take only 16385" in err
    assert "rule 'fine'" not in err
    assert "models.unknown.context_fallbacks: context_fallbacks are tried only after an upstream overflow" in err
