from bifrostc.runtime.observability.records import REDACTED, RequestRecord, apply_request, apply_response, redact
from bifrostc.runtime.types import ChatRequest, ChatResponse, Message, TextPart, Tool, Usage


def test_redact_removes_credential_headers_by_name_whatever_their_case():
    headers = {"Authorization": "Bearer abc", "X-Api-Key": "k1", "api_key": "k2", "x-goog-api-key": "k3", "accept": "x"}
    assert redact(headers) == {
        "Authorization": REDACTED,
        "X-Api-Key": REDACTED,
        "api_key": REDACTED,
        "x-goog-api-key": REDACTED,
        "accept": "x",
    }


def test_redact_masks_secret_shaped_values_inside_free_text_and_nested_structures():
    body = [
        {"role": "user", "content": [{"type": "text", "text": "my key is sk-ant-api03-AbCdEf123456 ok"}]},
        {"note": "curl -H 'Authorization: Bearer eyJhbGciOi.payload.sig' and AKIAIOSFODNN7EXAMPLE"},
    ]
    text = str(redact(body))
    assert "AbCdEf123456" not in text
    assert "eyJhbGciOi" not in text
    assert "AKIAIOSFODNN7EXAMPLE" not in text
    assert "my key is sk-" in text and "ok" in text


def test_redact_leaves_ordinary_fields_alone_even_when_their_names_mention_tokens():
    value = {"max_tokens": 100, "input_tokens": 5, "text": "skeleton sky-high", "temperature": 0.2}
    assert redact(value) == value


def test_redacted_record_cleans_bodies_and_error_message_without_touching_the_original():
    record = RequestRecord(
        request_messages=[{"text": "sk-proj-ABCDEFGH12345"}], error_message="upstream said Bearer xyz123 invalid"
    )
    clean = record.redacted()
    assert "ABCDEFGH12345" not in str(clean.request_messages)
    assert "xyz123" not in (clean.error_message or "")
    assert record.request_messages == [{"text": "sk-proj-ABCDEFGH12345"}]


def test_apply_request_and_response_fill_params_usage_and_json_bodies():
    record = RequestRecord()
    request = ChatRequest(
        model="sonnet",
        messages=[Message(role="user", content=[TextPart(text="hi")])],
        system=[TextPart(text="be brief")],
        max_tokens=64,
        temperature=0.5,
        stream=True,
        tools=[Tool(name="read")],
    )
    apply_request(record, request)
    response = ChatResponse(
        id="msg_1",
        model="claude-sonnet-4",
        content=[TextPart(text="hello")],
        usage=Usage(input_tokens=3, output_tokens=2, cache_read_tokens=7),
    )
    apply_response(record, response)
    assert (record.requested_model, record.max_tokens, record.temperature, record.tools_count) == ("sonnet", 64, 0.5, 1)
    assert record.stream is True
    assert record.request_messages[0]["role"] == "system"
    assert record.request_messages[1]["content"][0]["text"] == "hi"
    assert (record.upstream_model, record.finish_reason) == ("claude-sonnet-4", "end_turn")
    assert (record.input_tokens, record.output_tokens, record.cache_read_tokens) == (3, 2, 7)
    assert record.response_content == [{"text": "hello", "cache_control": None}]


def test_only_what_a_turn_adds_is_logged_unless_the_full_history_is_asked_for():
    history = [
        Message("user", [TextPart("fix the test")]),
        Message("assistant", [TextPart("reading")]),
        Message("user", [TextPart("result 1")]),
        Message("assistant", [TextPart("patching")]),
        Message("user", [TextPart("result 2")]),
    ]
    request = ChatRequest(model="sonnet", messages=history, system=[TextPart("You are Claude Code.")])
    compact, full, first = RequestRecord(), RequestRecord(), RequestRecord()
    apply_request(compact, request)
    apply_request(full, request, full_history=True)
    apply_request(first, ChatRequest(model="sonnet", messages=history[:1], system=request.system))
    assert compact.request_messages[0] == {
        "omitted": "4 earlier messages and the system prompt, logged with earlier turns"
    }
    assert [m["content"][0]["text"] for m in compact.request_messages[1:]] == ["result 2"]
    assert len(full.request_messages) == 6 and full.request_messages[0]["role"] == "system"
    assert [m.get("role") for m in first.request_messages] == ["system", "user"]  # a first turn logs everything
