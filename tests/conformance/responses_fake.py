"""OpenAI's Responses API as a fake upstream: what it refuses (with its documented status and message), its
response objects and its server-sent events, and a scripted model that answers a tool loop.

Rules, from the API reference (platform.openai.com/docs/api-reference/responses/create, the reasoning and
function-calling guides) and the errors the API is seen to answer:
- a `function_call_output` whose `call_id` names no earlier `function_call` (or custom call): 400 "No tool call
  found for function call output with call_id ...", param `input`;
- a `function_call` with no output after it: 400 "No tool output found for function call ...";
- under `store: false` a reasoning item must carry the `encrypted_content` it came with (with an id only: 404-like
  400 "Item with id ... not found. Items are not persisted when `store` is set to false..."), and only content
  this API encrypted (`gAAAA...`, what it issues) is accepted: 400 `invalid_encrypted_content`;
- an input item of an unknown type: 400 `invalid_value` naming `input[i].type`;
- Chat Completions fields: `messages` (400 "Unsupported parameter: 'messages'. In the Responses API, this
  parameter has moved to 'input'."), `max_tokens`/`max_completion_tokens` (400 unsupported_parameter);
- a function tool in the Chat Completions shape (`function: {...}`): 400 "Missing required parameter:
  'tools[i].name'.";
- the sampling parameters on a reasoning model, as on Chat Completions: 400 unsupported_parameter;
- `max_output_tokens` below 16: 400 integer_below_min_value.
Every event the fake sends validates against the official SDK's types (test_responses_egress.py).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Refusal = tuple[int, dict[str, Any]] | None
ENCRYPTED = "gAAAAB"  # how the content this API encrypts begins (a Fernet token); anything else fails to verify
_ITEM_TYPES = frozenset(
    {
        "message", "reasoning", "function_call", "function_call_output", "custom_tool_call",
        "custom_tool_call_output", "item_reference", "web_search_call", "file_search_call", "computer_call",
        "computer_call_output", "code_interpreter_call", "image_generation_call", "local_shell_call",
        "local_shell_call_output", "shell_call", "shell_call_output", "apply_patch_call", "apply_patch_call_output",
        "mcp_call", "mcp_list_tools", "mcp_approval_request", "mcp_approval_response", "compaction",
    }
)  # fmt: skip
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5(?!-chat)|codex-mini)")
_SAMPLING = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs")


def _error(message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def _field_refusal(body: dict[str, Any]) -> Refusal:
    if "messages" in body:
        message = (
            "Unsupported parameter: 'messages'. In the Responses API, this parameter has moved to 'input'. "
            "Try again with the new parameter."
        )
        return 400, _error(message, "messages", "unsupported_parameter")
    for name in ("max_tokens", "max_completion_tokens"):
        if name in body:
            message = f"Unsupported parameter: '{name}'. In the Responses API, use 'max_output_tokens'."
            return 400, _error(message, name, "unsupported_parameter")
    budget = body.get("max_output_tokens")
    if isinstance(budget, int) and budget < 16:
        message = f"Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got {budget}"
        return 400, _error(message + " instead.", "max_output_tokens", "integer_below_min_value")
    if _REASONING_MODEL.match(str(body.get("model", "")).rsplit("/", 1)[-1]):
        for name in _SAMPLING:
            if name in body and body[name] != 1:
                message = f"Unsupported parameter: '{name}' is not supported with this model."
                return 400, _error(message, name, "unsupported_parameter")
    for i, tool in enumerate(body.get("tools") or []):
        if isinstance(tool, dict) and tool.get("type") in ("function", "custom") and "name" not in tool:
            return 400, _error(f"Missing required parameter: 'tools[{i}].name'.", f"tools[{i}].name")
    return None


def _item_refusal(body: dict[str, Any]) -> Refusal:
    items = body.get("input")
    if not isinstance(items, list):
        return None
    calls: list[str] = []
    answered: set[str] = set()
    stateless = body.get("store") is False
    for i, item in enumerate(items):
        kind = item.get("type", "message") if isinstance(item, dict) else None
        if kind not in _ITEM_TYPES:
            supported = ", ".join(f"'{t}'" for t in sorted(_ITEM_TYPES))
            message = f"Invalid value: '{kind}'. Supported values are: {supported}."
            return 400, _error(message, f"input[{i}].type", "invalid_value")
        if kind == "reasoning":
            encrypted = item.get("encrypted_content")
            if stateless and not encrypted:
                message = (
                    f"Item with id '{item.get('id', '')}' not found. Items are not persisted when `store` is set to "
                    "false. Try again with `store` set to true, or remove this item from your input."
                )
                return 400, _error(message, "input", None)
            if encrypted and not str(encrypted).startswith(ENCRYPTED):
                message = f"The encrypted content for item input[{i}] could not be verified."
                return 400, _error(message, f"input[{i}].encrypted_content", "invalid_encrypted_content")
            if not isinstance(item.get("summary"), list):
                return 400, _error(f"Missing required parameter: 'input[{i}].summary'.", f"input[{i}].summary")
        elif kind in ("function_call", "custom_tool_call"):
            calls.append(str(item.get("call_id")))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            call_id = str(item.get("call_id"))
            if call_id not in calls:
                message = f"No tool call found for function call output with call_id {call_id}."
                return 400, _error(message, "input", None)
            answered.add(call_id)
    for call_id in calls:
        if call_id not in answered:
            return 400, _error(f"No tool output found for function call {call_id}.", "input", None)
    return None


def refusal(body: dict[str, Any]) -> Refusal:
    """None when the Responses API would accept `body`, else (status, OpenAI error body)."""
    return _field_refusal(body) or _item_refusal(body)


# --- what the API sends -------------------------------------------------------------------------------------


def encrypted(note: str) -> str:
    return ENCRYPTED + base64.urlsafe_b64encode(note.encode()).decode()


def reasoning(item_id: str, summary: str, note: str) -> dict[str, Any]:
    summary_parts = [{"type": "summary_text", "text": summary}] if summary else []
    return {"id": item_id, "type": "reasoning", "summary": summary_parts, "encrypted_content": encrypted(note)}


def function_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    item = {"id": "fc_" + call_id, "type": "function_call", "status": "completed", "call_id": call_id}
    return item | {"name": name, "arguments": arguments}


def custom_call(call_id: str, name: str, text: str) -> dict[str, Any]:
    return {"id": "ctc_" + call_id, "type": "custom_tool_call", "call_id": call_id, "name": name, "input": text}


def message(item_id: str, text: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}]
    return {"id": item_id, "type": "message", "status": "completed", "role": "assistant", "content": content}


@dataclass(frozen=True)
class Usage:
    input: int = 40  # includes cached
    cached: int = 8
    output: int = 12  # includes reasoning
    reasoning: int = 5

    def wire(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input,
            "input_tokens_details": {"cached_tokens": self.cached, "cache_write_tokens": 0},
            "output_tokens": self.output,
            "output_tokens_details": {"reasoning_tokens": self.reasoning},
            "total_tokens": self.input + self.output,
        }


def response(
    output: list[dict[str, Any]], usage: Usage | None = None, *, model: str = "up", status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": "resp_fake1",
        "object": "response",
        "created_at": 1,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage.wire() if usage else None,
    }


def _frame(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


def _item_events(index: int, item: dict[str, Any], chunk: int) -> list[dict[str, Any]]:
    """The events of one output item, its text or arguments cut into `chunk`-character deltas."""
    kind, item_id = item["type"], item["id"]
    where = {"item_id": item_id, "output_index": index}
    events: list[dict[str, Any]] = []
    if kind == "reasoning":
        added = {**item, "summary": [], "encrypted_content": None}  # whole only in output_item.done
        events.append({"type": "response.output_item.added", "output_index": index, "item": added})
        for s, part in enumerate(item["summary"]):
            at = {**where, "summary_index": s}
            events.append({"type": "response.reasoning_summary_part.added", **at, "part": {**part, "text": ""}})
            events += [
                {"type": "response.reasoning_summary_text.delta", **at, "delta": d} for d in _cut(part["text"], chunk)
            ]
            events.append({"type": "response.reasoning_summary_text.done", **at, "text": part["text"]})
            events.append({"type": "response.reasoning_summary_part.done", **at, "part": part})
    elif kind == "message":
        events.append({"type": "response.output_item.added", "output_index": index, "item": {**item, "content": []}})
        text = item["content"][0]["text"]
        at = {**where, "content_index": 0}
        empty = {"type": "output_text", "text": "", "annotations": []}
        events.append({"type": "response.content_part.added", **at, "part": empty})
        events += [{"type": "response.output_text.delta", **at, "delta": d, "logprobs": []} for d in _cut(text, chunk)]
        events.append({"type": "response.output_text.done", **at, "text": text, "logprobs": []})
        events.append({"type": "response.content_part.done", **at, "part": item["content"][0]})
    elif kind == "function_call":
        added = {**item, "arguments": "", "status": "in_progress"}
        events.append({"type": "response.output_item.added", "output_index": index, "item": added})
        deltas = _cut(item["arguments"], chunk)
        events += [{"type": "response.function_call_arguments.delta", **where, "delta": d} for d in deltas]
        events.append({"type": "response.function_call_arguments.done", **where, "arguments": item["arguments"]})
    elif kind == "custom_tool_call":
        events.append({"type": "response.output_item.added", "output_index": index, "item": {**item, "input": ""}})
        deltas = _cut(item["input"], chunk)
        events += [{"type": "response.custom_tool_call_input.delta", **where, "delta": d} for d in deltas]
        events.append({"type": "response.custom_tool_call_input.done", **where, "input": item["input"]})
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events


def _cut(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or []


def stream(
    output: list[dict[str, Any]],
    usage: Usage | None = None,
    *,
    model: str = "up",
    chunk: int = 7,
    fail_after: int | None = None,
    status: str = "completed",
) -> list[bytes]:
    """The SSE frames of a streamed response; `fail_after`: that many output items, then `response.failed`."""
    head = response([], None, model=model, status="in_progress")
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": head},
        {"type": "response.in_progress", "response": head},
    ]
    for index, item in enumerate(output):
        if fail_after is not None and index >= fail_after:
            failed = response([], None, model=model, status="failed")
            failed["error"] = {"code": "server_error", "message": "The model produced invalid content."}
            events.append({"type": "response.failed", "response": failed})
            break
        events += _item_events(index, item, chunk)
    else:
        terminal = "response.incomplete" if status == "incomplete" else "response.completed"
        events.append({"type": terminal, "response": response(output, usage, model=model, status=status)})
    return [_frame({**event, "sequence_number": n}) for n, event in enumerate(events)]


# --- a scripted model behind the real endpoint ---------------------------------------------------------------

Script = Callable[[dict[str, Any]], list[dict[str, Any]]]  # the request body -> the output items to answer


@dataclass
class FakeResponses:
    """`app()` serves POST /v1/responses (OpenAI) and /openai/responses (Azure): refuses what the API refuses,
    else answers `script(body)` streamed or whole. Chat Completions for a Responses-only model: the API's 404."""

    script: Script
    usage: Usage = field(default_factory=Usage)
    seen: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    fail_after: int | None = None  # stream: items sent before a mid-stream response.failed

    async def _responses(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.seen.append(body)
        refused = refusal(body)
        if refused is not None:
            self.refused.append(refused[1])
            return JSONResponse(refused[1], status_code=refused[0])
        output = self.script(body)
        model = str(body.get("model"))
        if body.get("stream"):
            frames = stream(output, self.usage, model=model, fail_after=self.fail_after)
            return Response(b"".join(frames), media_type="text/event-stream")
        return JSONResponse(response(output, self.usage, model=model))

    async def _chat(self, request: Request) -> Response:
        message = "This model is only supported in v1/responses and not in v1/chat/completions."
        return JSONResponse(_error(message, "model"), status_code=404)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/responses", self._responses, methods=["POST"]),
                Route("/openai/responses", self._responses, methods=["POST"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/openai/deployments/{name}/chat/completions", self._chat, methods=["POST"]),
            ]
        )


def outputs(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool results a request carries (function and custom), in order."""
    items = body.get("input") if isinstance(body.get("input"), list) else []
    return [i for i in items if i.get("type") in ("function_call_output", "custom_tool_call_output")]
