"""`responses.split_input` stands in for the parse of a relayed Responses input's earlier items
(handlers/relay_parse.py): wherever the whole input parses, the cut one parses to the same system prompt and
the same new turn, and the count of earlier messages is where the log's new turn starts."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.observability.records import new_turn_start
from bifrostc.runtime.translate import responses

from .strategies import ident, json_object, json_scalar

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_texts = [[{"type": "input_text", "text": "hi"}], [{"type": "output_text", "text": "ok"}]]
_content = st.sampled_from(["", "hi", [], *_texts])
_valid = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("message"),
            "role": st.sampled_from(["user", "user", "assistant", "developer", "system"]),
            "content": _content,
        }
    ),
    st.builds(lambda call: {"type": "function_call", "call_id": call, "name": "shell", "arguments": "{}"}, ident),
    st.builds(lambda call: {"type": "custom_tool_call", "call_id": call, "name": "apply_patch", "input": "x"}, ident),
    st.builds(lambda call: {"type": "function_call_output", "call_id": call, "output": "done"}, ident),
    st.builds(lambda call: {"type": "custom_tool_call_output", "call_id": call, "output": "done"}, ident),
    st.fixed_dictionaries(
        {"type": st.just("reasoning"), "summary": st.sampled_from([[], [{"type": "summary_text", "text": "hm"}]])},
        optional={"encrypted_content": st.just("gAAAAB-opaque"), "content": st.just([{"type": "x", "text": "t"}])},
    ),
    st.just({"type": "web_search_call", "id": "ws_1"}),  # a dropped item
)
_refused = st.one_of(
    st.just({"type": "message", "role": "tool", "content": "?"}),
    st.just({"type": "message", "role": "user", "content": 5}),
    json_object,
    json_scalar,
)
_item = st.one_of(_valid, _refused)
_call = st.builds(lambda call: {"type": "function_call", "call_id": call, "name": "shell", "arguments": "{}"}, ident)
_turn_item = st.one_of(  # what may follow a turn's last call: outputs, the user, items that place nothing
    st.builds(lambda call: {"type": "function_call_output", "call_id": call, "output": "done"}, ident),
    st.fixed_dictionaries({"type": st.just("message"), "role": st.just("user"), "content": _content}),
    st.just({"type": "reasoning", "summary": []}),
    st.just({"type": "web_search_call", "id": "ws_1"}),
    st.just({"type": "message", "role": "developer", "content": "Now in French."}),  # no cut: only the whole can say
)
# A conversation of any items, then a call and what follows it: most such inputs are cut.
_inputs = st.one_of(
    st.tuples(st.lists(_valid, max_size=10), _call, st.lists(_turn_item, min_size=1, max_size=4)).map(
        lambda t: [*t[0], t[1], *t[2]]
    ),
    st.lists(_item, max_size=12),
)


def _parse(items: list[Any]) -> Any:
    return responses.parse_request({"model": "m", "input": items})


@SETTINGS
@given(_inputs)
def test_a_cut_input_parses_to_the_same_new_turn_and_system_prompt(items: list[Any]) -> None:
    split = responses.split_input(items)
    if split is None:
        return
    omitted, kept = split
    try:
        whole = _parse(items)
    except InvalidRequest:
        return  # an earlier item only the whole parse refuses: relayed, it is the upstream's 400
    cut = _parse(kept)
    assert omitted == new_turn_start(whole.messages) > 0
    assert cut.messages == whole.messages[omitted:]
    assert cut.system == whole.system


def test_a_codex_turn_is_cut_after_its_last_call() -> None:
    developer = {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be terse."}]}
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "List the files."}]}
    reasoning = {"type": "reasoning", "summary": [{"type": "summary_text", "text": "ls"}], "encrypted_content": "gA"}
    call = {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": '{"command": ["ls"]}'}
    output = {"type": "function_call_output", "call_id": "c1", "output": "a.py b.py"}
    items = [developer, user, reasoning, call, output, reasoning, call | {"call_id": "c2"}, output | {"call_id": "c2"}]
    assert responses.split_input(items) == (4, [developer, output | {"call_id": "c2"}])
    assert responses.split_input([developer, user]) is None  # nothing before the new turn
    assert responses.split_input([user, call]) is None  # it ends in the assistant's turn
