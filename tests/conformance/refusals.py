"""What each provider refuses, checked by the conformance fakes the way the provider does, with its documented
status and message. Written from the providers' references, independently of runtime/providers/rules.py (a
shared mistake would pass both): a request the gateway fits wrongly is refused here as it would be upstream.

`refusal(family, path, query, headers, body)` is None when the provider would accept the request, else
``(status, error body)`` in that provider's own error shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from . import responses_fake

Refusal = tuple[int, dict[str, Any]] | None
Check = Callable[[str, Mapping[str, str], Mapping[str, str], dict[str, Any]], Refusal]


def _openai_error(message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def _assistant_calls(body: dict[str, Any]) -> list[tuple[int, int, dict[str, Any]]]:
    found = []
    for i, message in enumerate(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "assistant":
            for j, call in enumerate(message.get("tool_calls") or []):
                found.append((i, j, call))
    return found


def _tool_ids(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, id) of every tool-call id in a Chat Completions body."""
    ids = [(f"messages[{i}].tool_calls[{j}].id", str(call.get("id"))) for i, j, call in _assistant_calls(body)]
    for i, message in enumerate(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "tool":
            ids.append((f"messages[{i}].tool_call_id", str(message.get("tool_call_id"))))
    return ids


# --- OpenAI: https://platform.openai.com/docs/api-reference/chat/create, /docs/guides/reasoning --------------
_O_SERIES = re.compile(r"^(o\d|gpt-5(?!-chat)|codex-mini)")
_SAMPLING = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "logit_bias")


_RESPONSES_ONLY = re.compile(r"^(o\d+(-mini)?-(pro|deep-research)|codex-mini|gpt-5(\.\d+)?-(pro|codex))")


def _openai(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    model = str(body.get("model", "")).rsplit("/", 1)[-1]
    if path.endswith("/responses"):  # the Responses API's own rules (responses_fake.py)
        return responses_fake.refusal(body)
    if _RESPONSES_ONLY.match(model):
        message = "This model is only supported in v1/responses and not in v1/chat/completions."
        return 404, _openai_error(message, "model")
    for where, tool_id in _tool_ids(body):
        if len(tool_id) > 40:
            message = (
                f"Invalid '{where}': string too long. Expected a string with maximum length 40, "
                f"but got a string with length {len(tool_id)} instead."
            )
            return 400, _openai_error(message, where, "string_above_max_length")
    if _O_SERIES.match(model):
        if "max_tokens" in body:
            message = (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead."
            )
            return 400, _openai_error(message, "max_tokens", "unsupported_parameter")
        for name in _SAMPLING:
            if name in body and not (name in ("temperature", "top_p") and body[name] == 1):
                message = f"Unsupported parameter: '{name}' is not supported with this model."
                return 400, _openai_error(message, name, "unsupported_parameter")
    elif "reasoning_effort" in body and not model.startswith("gpt-oss"):
        message = "Unsupported parameter: 'reasoning_effort' is not supported with this model."
        return 400, _openai_error(message, "reasoning_effort", "unsupported_parameter")
    return None


# --- Azure: the deployment's model needs a recent api-version -----------------------------------------------
# https://learn.microsoft.com/azure/ai-foundry/openai/how-to/reasoning
_AZURE_MINIMUM = (
    (re.compile(r"^(o3|o4|gpt-5|codex-mini)"), "2025-04-01-preview"),
    (re.compile(r"^o1"), "2024-12-01-preview"),
)


def _azure(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    if path.endswith("/openai/responses"):  # one endpoint per resource: the deployment is the body's model
        return _openai(path, query, headers, body)
    deployment = path.split("/deployments/", 1)[-1].split("/", 1)[0]
    version = query.get("api-version", "")
    for pattern, minimum in _AZURE_MINIMUM:
        if pattern.match(deployment) and version[:10] < minimum[:10]:
            message = f"Model {deployment} is enabled only for api versions {minimum} and later"
            return 400, {"error": {"code": "BadRequest", "message": message}}
    return _openai(path, query, headers, {**body, "model": deployment})


# --- Mistral: https://docs.mistral.ai/api/#tag/chat (extra fields forbidden; 9-character tool ids) ---------
_MISTRAL_FIELDS = {
    "model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop", "random_seed", "response_format",
    "tools", "tool_choice", "presence_penalty", "frequency_penalty", "n", "prediction", "parallel_tool_calls",
    "prompt_mode", "safe_prompt",
}  # fmt: skip
_MISTRAL_ID = re.compile(r"[a-zA-Z0-9]{9}")


def _mistral(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    extra = [name for name in body if name not in _MISTRAL_FIELDS]
    if extra:
        detail = [
            {
                "type": "extra_forbidden",
                "loc": ["body", name],
                "msg": "Extra inputs are not permitted",
                "input": body[name],
            }
            for name in extra
        ]
        return 422, {
            "object": "error",
            "message": {"detail": detail},
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    for _, tool_id in _tool_ids(body):
        if not _MISTRAL_ID.fullmatch(tool_id):
            message = f"Tool call id was {tool_id} but must be a-z, A-Z, 0-9, with a length of 9."
            return 400, {
                "object": "error",
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": "3280",
            }
    return _system_first(body)


# --- Cerebras: https://inference-docs.cerebras.ai/api-reference/chat-completions ----------------------------
_CEREBRAS_REFUSED = ("frequency_penalty", "logit_bias", "presence_penalty", "parallel_tool_calls", "service_tier")


def _cerebras(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    for name in _CEREBRAS_REFUSED:
        if name in body:
            message = f"body.{name}: property 'body.{name}' is unsupported"
            return 400, {
                "message": message,
                "type": "invalid_request_error",
                "param": "validation_error",
                "code": "wrong_api_format",
            }
    return _system_first(body)


# --- Groq: https://console.groq.com/docs/openai ("Currently unsupported OpenAI features") ---------------------
def _groq(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    for name in ("logprobs", "logit_bias", "top_logprobs"):
        if name in body:
            return 400, _openai_error(f"`{name}` is not supported", name, "invalid_request_error")
    if body.get("n", 1) != 1:
        return 400, _openai_error("'n' : number must be at most 1", "n", "invalid_request_error")
    return _system_first(body)


# --- DeepSeek: https://api-docs.deepseek.com/guides/thinking_mode -------------------------------------------
def _thinking_mode(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "disabled"):
        return thinking["type"] == "enabled"
    model = str(body.get("model", ""))
    return model == "deepseek-reasoner" or model.startswith("deepseek-v4")  # v4: thinking on by default


def _deepseek(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    if _thinking_mode(body):
        for message in body.get("messages") or []:
            if message.get("role") == "assistant" and message.get("tool_calls") and "reasoning_content" not in message:
                text = "The reasoning_content in the thinking mode must be passed back to the API."
                return 400, _openai_error(text, None, "invalid_request_error")
    return _system_first(body)


# --- OpenRouter: https://openrouter.ai/docs/use-cases/reasoning-tokens#preserving-reasoning-blocks -----------
def _openrouter(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    if str(body.get("model", "")).startswith("google/gemini-3"):
        for message in body.get("messages") or []:
            if message.get("role") == "assistant" and message.get("tool_calls"):
                details = message.get("reasoning_details") or []
                if not any(isinstance(d, dict) and d.get("type") == "reasoning.encrypted" for d in details):
                    raw = "Function call is missing a thought_signature in functionCall parts."
                    error = {
                        "message": "Provider returned error",
                        "code": 400,
                        "metadata": {"raw": raw, "provider_name": "Google"},
                    }
                    return 400, {"error": error}
    return _system_first(body)


# --- OpenAI-compatible servers running Qwen/Llama chat templates (vLLM, Ollama) ------------------------------
def _system_first(body: dict[str, Any]) -> Refusal:
    """The Qwen chat template raises on a system message that is not first; vLLM answers a 400 with it."""
    for i, message in enumerate(body.get("messages") or []):
        if i > 0 and isinstance(message, dict) and message.get("role") == "system":
            return 400, {
                "object": "error",
                "message": "System message must be at the beginning.",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            }
    return None


def _compat(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    return _system_first(body)


# --- Anthropic Messages and the Anthropic-compatible hosts -------------------------------------------------
# https://docs.anthropic.com/en/api/messages: tool_use ids ^[a-zA-Z0-9_-]+$, only user/assistant roles.
_ANTHROPIC_ID = re.compile(r"[a-zA-Z0-9_-]+")


def _anthropic_message(text: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": "invalid_request_error", "message": text}}


def _anthropic_ids(body: dict[str, Any]) -> str | None:
    for i, message in enumerate(body.get("messages") or []):
        for j, block in enumerate(message.get("content") if isinstance(message.get("content"), list) else []):
            key = {"tool_use": "id", "tool_result": "tool_use_id"}.get(block.get("type", ""))
            if key and not _ANTHROPIC_ID.fullmatch(str(block.get(key))):
                return f"messages.{i}.content.{j}.{block['type']}.{key}: String should match pattern '^[a-zA-Z0-9_-]+$'"
    return None


def _anthropic(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    problem = _anthropic_ids(body)
    return (400, _anthropic_message(problem)) if problem else None


# https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-request-response.html
_BEDROCK_KEYS = {
    "anthropic_version", "anthropic_beta", "max_tokens", "system", "messages", "temperature", "top_p", "top_k",
    "stop_sequences", "tools", "tool_choice", "thinking", "output_config", "context_management",
}  # fmt: skip
_BEDROCK_BETAS = {
    "computer-use-2025-01-24", "computer-use-2025-11-24", "token-efficient-tools-2025-02-19",
    "interleaved-thinking-2025-05-14", "output-128k-2025-02-19", "fine-grained-tool-streaming-2025-05-14",
    "context-1m-2025-08-07", "context-management-2025-06-27", "compact-2026-01-12", "effort-2025-11-24",
    "tool-search-tool-2025-10-19", "tool-examples-2025-10-29",
}  # fmt: skip
_CONTEXT = {"context-management-2025-06-27", "compact-2026-01-12"}


def _bedrock_invoke(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    for key in body:
        if key not in _BEDROCK_KEYS:
            text = (
                f"Malformed input request: #: extraneous key [{key}] is not permitted, "
                "please reformat your input and try again."
            )
            return 400, {"message": text}
    betas = body.get("anthropic_beta") or []
    for beta in betas:
        if beta not in _BEDROCK_BETAS:
            return 400, {"message": "invalid beta flag"}
    if "context_management" in body and not _CONTEXT & set(betas):
        return 400, {
            "message": "The model returned the following errors: context_management: Extra inputs are not permitted"
        }
    problem = _anthropic_ids(body)
    return (400, {"message": f"The model returned the following errors: {problem}"}) if problem else None


def _bedrock_converse(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    """https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolUseBlock.html: toolUseId."""
    for i, message in enumerate(body.get("messages") or []):
        for block in message.get("content") or []:
            use = block.get("toolUse") or block.get("toolResult") or {}
            tool_id = use.get("toolUseId")
            if tool_id is not None and not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", str(tool_id)):
                text = (
                    f"1 validation error detected: Value '{tool_id}' at 'messages.{i + 1}.member.content' failed "
                    "to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+"
                )
                return 400, {"message": text}
    return None


def _bedrock(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    invoke = path.endswith("/invoke") or path.endswith("/invoke-with-response-stream")
    return (_bedrock_invoke if invoke else _bedrock_converse)(path, query, headers, body)


# https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/use-claude
_VERTEX_KEYS = {
    "anthropic_version", "messages", "max_tokens", "system", "temperature", "top_p", "top_k", "stop_sequences",
    "tools", "tool_choice", "thinking", "metadata", "stream", "output_config", "context_management",
}  # fmt: skip
_VERTEX_BETAS = {
    "computer-use-2025-01-24", "computer-use-2025-11-24", "token-efficient-tools-2025-02-19",
    "interleaved-thinking-2025-05-14", "output-128k-2025-02-19", "context-1m-2025-08-07",
    "context-management-2025-06-27", "compact-2026-01-12", "tool-search-tool-2025-10-19", "web-search-2025-03-05",
}  # fmt: skip


def _vertex(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    if "/publishers/anthropic/" not in path:
        return None
    for key in body:
        if key not in _VERTEX_KEYS:
            return 400, _anthropic_message(f"{key}: Extra inputs are not permitted")
    betas = [b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()]
    for beta in betas:
        if beta not in _VERTEX_BETAS:
            return 400, _anthropic_message(f"Unsupported beta header: {beta}")
    if "context_management" in body and not _CONTEXT & set(betas):
        return 400, _anthropic_message("context_management: Extra inputs are not permitted")
    return _anthropic(path, query, headers, body)


# --- Gemini / Vertex generateContent: https://ai.google.dev/api/generate-content#request-body ----------------
# A proto-backed JSON API: unknown fields are refused ("Invalid JSON payload received. Unknown name ...").
_GEMINI_KEYS = {
    "contents", "tools", "toolConfig", "safetySettings", "systemInstruction", "generationConfig", "cachedContent",
    "labels",
}  # fmt: skip
_GENERATION_KEYS = {
    "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema", "candidateCount",
    "maxOutputTokens", "temperature", "topP", "topK", "seed", "presencePenalty", "frequencyPenalty",
    "responseLogprobs", "logprobs", "thinkingConfig", "responseModalities", "mediaResolution",
}  # fmt: skip
# https://ai.google.dev/api/caching#FunctionDeclaration: a-z, A-Z, 0-9, underscores, dots, colons, dashes; max 64.
_GEMINI_FUNCTION = re.compile(r"[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}")


def _gemini_error(message: str) -> dict[str, Any]:
    return {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}


def _gemini(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    for where, keys, allowed in (
        ("", body, _GEMINI_KEYS),
        ("generation_config.", body.get("generationConfig") or {}, _GENERATION_KEYS),
    ):
        for key in keys:
            if key not in allowed:
                return 400, _gemini_error(
                    f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field."
                )
    for tool in body.get("tools") or []:
        for declaration in tool.get("functionDeclarations") or []:
            if not _GEMINI_FUNCTION.fullmatch(str(declaration.get("name"))):
                return 400, _gemini_error(
                    "* GenerateContentRequest.tools[0].function_declarations: "
                    f"Invalid function name {declaration.get('name')!r}."
                )
    return None


def _vertex_any(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    return (
        _vertex(path, query, headers, body) if "/publishers/anthropic/" in path else _gemini(path, query, headers, body)
    )


def _none(path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]) -> Refusal:
    return None


CHECKS: dict[str, Check] = {
    "openai": _openai,
    "openai-responses": _openai,
    "azure": _azure,
    "mistral": _mistral,
    "cerebras": _cerebras,
    "groq": _groq,
    "deepseek": _deepseek,
    "openrouter": _openrouter,
    "vllm": _compat,
    "anthropic": _anthropic,
    "bedrock": _bedrock,
    "vertex": _vertex_any,
    "gemini": _gemini,
}


def refusal(
    family: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: dict[str, Any]
) -> Refusal:
    return CHECKS.get(family, _none)(path, query, headers, body)
