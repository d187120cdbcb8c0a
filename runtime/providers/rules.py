"""What each provider's API accepts and refuses, from its own reference, and the pure functions that fit a
request to it. The registry gives every provider type its `Rules`; every request builder consults them, so
nothing goes upstream that the table says the target refuses. What a route loses is told once at start-up
and by ``bifrostc explain`` (`route_notes`), never silently.

Five classes of rule, each from the provider's API reference (cited at each entry):
1. top-level body fields: a provider that refuses unknown fields (Mistral's ``extra_forbidden``) gets only the
   fields its reference lists; fields the gateway adds itself (``user``, ``stream_options``) included;
2. tool-call id formats: ids minted by another provider are mapped to the target's format, deterministically,
   so every turn and every parallel call maps the same id to the same value (``fit_tool_id``);
3. per-model-class parameters (OpenAI o-series/gpt-5 refuse sampling parameters; see ``model_caps``);
4. minimum API versions per model family (Azure ``api-version``);
5. Anthropic-compatible hosts: which Anthropic body fields and ``anthropic-beta`` values each accepts, and which
   fields need which beta.
Plus the conversation shape: mid-conversation ``system`` turns folded into the system prompt, and reasoning
carried back to the providers that require it (DeepSeek ``reasoning_content``, OpenRouter
``reasoning_details``).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from bifrostc.runtime.types import ChatRequest, Message, Part, TextPart, ToolCallPart, ToolResultPart

SystemTurns = Literal["keep", "fold"]
ReasoningBack = Literal["none", "reasoning_content", "reasoning_details"]

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class IdRule:
    """A tool-call id format: ids that match pass unchanged, others are derived from a hash of the original."""

    pattern: str  # the whole id must match
    length: int | None = None  # exact length of derived ids (Mistral: 9); None: the prefix plus 24 characters
    prefix: str = ""
    alphabet: str = _ALNUM
    what: str = ""  # in words, for logs and explain

    def accepts(self, tool_id: str) -> bool:
        return _compiled(self.pattern).fullmatch(tool_id) is not None


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    """Id patterns are checked once per tool block of every relayed history: compile each once."""
    return re.compile(pattern)


@dataclass(frozen=True, slots=True)
class Rules:
    """One provider type's request rules. ``None`` means "no rule": whatever the gateway builds is accepted."""

    reference: str = ""  # the API reference page the rules are written from
    fields: frozenset[str] | None = None  # the only top-level fields accepted (unknown ones are refused)
    refused: frozenset[str] = frozenset()  # fields refused even though the family's wire format has them
    renamed: dict[str, str] = field(default_factory=dict)  # the family's field name -> this type's own
    tool_ids: IdRule | None = None
    system_turns: SystemTurns = "keep"  # fold: mid-conversation system turns join the leading system prompt
    reasoning_back: ReasoningBack = "none"  # how assistant reasoning must be sent back on later turns
    anthropic_fields: frozenset[str] | None = None  # Anthropic-compatible hosts: accepted top-level fields
    betas: frozenset[str] | None = None  # accepted anthropic-beta values (None: all)
    beta_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)  # field -> betas, one of which it needs
    # Model classes inside the type: models matching `reasoning_models` (a regex on the bare model id) take
    # reasoning_effort, the others refuse it ("": name heuristics); models matching `strict_models` refuse
    # the fields in `strict_refuses`.
    reasoning_models: str = ""
    strict_models: str = ""
    strict_refuses: frozenset[str] = frozenset()

    def allows(self, name: str) -> bool:
        return name not in self.refused and (self.fields is None or name in self.fields)


# --- tool-call ids ------------------------------------------------------------------------------------------


def fit_tool_id(rule: IdRule | None, tool_id: str) -> str:
    """``tool_id`` in the target's format: unchanged when it already fits, else a stable hash of it (the same
    id always maps to the same value, so a call and its result, across turns and parallel calls, still pair)."""
    if rule is None or rule.accepts(tool_id):
        return tool_id
    digest = int.from_bytes(hashlib.sha256(tool_id.encode()).digest(), "big")
    size = rule.length - len(rule.prefix) if rule.length is not None else 24
    chars = []
    for _ in range(size):
        digest, index = divmod(digest, len(rule.alphabet))
        chars.append(rule.alphabet[index])
    return rule.prefix + "".join(chars)


def _fit_part_ids(rule: IdRule, part: Part) -> Part:
    if isinstance(part, ToolCallPart):
        return replace(part, id=fit_tool_id(rule, part.id))
    if isinstance(part, ToolResultPart):
        return replace(part, tool_call_id=fit_tool_id(rule, part.tool_call_id))
    return part


def fold_system_turns(system: list[TextPart], messages: list[Message]) -> tuple[list[TextPart], list[Message]]:
    """Mid-conversation system turns moved, in order, to the end of the leading system prompt (chat templates
    of Qwen, vLLM and Ollama models refuse a system message that is not first)."""
    if not any(m.role == "system" for m in messages):
        return system, messages
    folded = list(system)
    for message in messages:
        if message.role == "system":
            folded.extend(p for p in message.content if isinstance(p, TextPart))
    return folded, [m for m in messages if m.role != "system"]


def fit_request(
    rules: Rules, req: ChatRequest, *, tool_ids: IdRule | None = None, system_turns: str = ""
) -> ChatRequest:
    """The canonical request with the conversation-shape rules applied (ids, system turns); ``req`` itself when
    nothing changes. ``tool_ids``/``system_turns`` override the type's rules (per model, per provider option)."""
    rule = tool_ids or rules.tool_ids
    fold = (system_turns or rules.system_turns) == "fold"
    messages = req.messages
    if rule is not None and any(_has_ids(m) for m in messages):
        messages = [Message(m.role, [_fit_part_ids(rule, p) for p in m.content]) for m in messages]
    system = req.system
    if fold:
        system, messages = fold_system_turns(system, messages)
    if messages is req.messages and system is req.system:
        return req
    return replace(req, messages=messages, system=system)


def _has_ids(message: Message) -> bool:
    return any(isinstance(p, ToolCallPart | ToolResultPart) for p in message.content)


# --- body fields --------------------------------------------------------------------------------------------


def fit_fields(rules: Rules, body: dict[str, object]) -> list[str]:
    """Rename, in place, the fields the target names its own way, and remove those it refuses; returns the
    names removed."""
    for name, own in rules.renamed.items():
        if name in body and own not in body:
            body[own] = body.pop(name)
    dropped = [name for name in body if not rules.allows(name)]
    for name in dropped:
        del body[name]
    return dropped


def filter_betas(rules: Rules, betas: list[str] | str | None) -> list[str]:
    """The ``anthropic-beta`` values (a header value or a list) the host accepts, in order. Pure: the header
    forwarding code applies it to whatever it forwards."""
    if betas is None:
        return []
    values = [b.strip() for b in (betas.split(",") if isinstance(betas, str) else betas) if b.strip()]
    return values if rules.betas is None else [b for b in values if b in rules.betas]


def fit_anthropic_body(rules: Rules, body: dict[str, object], betas: list[str]) -> list[str]:
    """Remove, in place, the Anthropic fields this host refuses, and those that need a beta it was not sent
    (``betas``: already filtered by `filter_betas`); returns the names removed."""
    dropped = []
    for name in list(body):
        needs = rules.beta_fields.get(name)
        refused = rules.anthropic_fields is not None and name not in rules.anthropic_fields
        if refused or (needs is not None and not any(b in betas for b in needs)):
            del body[name]
            dropped.append(name)
    return dropped


def fold_openai_system(body: dict[str, object]) -> dict[str, object]:
    """A Chat Completions body whose later system/developer messages joined the first message (a system one,
    added when there is none); ``body`` itself when none comes after another message."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    late = [i for i, m in enumerate(messages) if i > 0 and isinstance(m, dict) and m.get("role") in _SYSTEM]
    if not late:
        return body
    head = messages[0] if isinstance(messages[0], dict) and messages[0].get("role") in _SYSTEM else None
    texts = [_openai_text(head)] if head is not None else []
    texts += [_openai_text(messages[i]) for i in late]
    rest = [m for i, m in enumerate(messages) if i not in late and m is not head]
    system = {"role": "system", "content": "\n\n".join(t for t in texts if t)}
    return {**body, "messages": [system, *rest]}


_SYSTEM = ("system", "developer")


def _openai_text(message: dict[str, object]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def fit_anthropic_ids(rule: IdRule, body: dict[str, object]) -> dict[str, object]:
    """An Anthropic-shaped body whose tool_use ids and tool_use_ids fit ``rule``; ``body`` itself when all do
    (a passthrough history that visited another provider family before reaching Claude)."""
    messages = body.get("messages")
    fits = _compiled(rule.pattern).fullmatch
    if not isinstance(messages, list) or all(_ids_fit(fits, m) for m in messages):
        return body
    fitted = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and not _ids_fit(fits, message):
            message = {**message, "content": [_fit_block_id(rule, block) for block in content]}
        fitted.append(message)
    return {**body, "messages": fitted}


_ID_KEYS = {"tool_use": "id", "tool_result": "tool_use_id"}


def _ids_fit(fits: Callable[[str], object], message: object) -> bool:
    """Whether every tool id in one message passes ``fits`` (a compiled pattern's fullmatch). It runs over every
    block of every relayed history (a 158 KB one holds ~300), so the block test is inline, not a call per block."""
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return True
    for block in content:
        if isinstance(block, dict):
            kind = block.get("type")
            key = _ID_KEYS.get(kind) if isinstance(kind, str) else None
            if key is not None:
                value = block.get(key)
                if isinstance(value, str) and fits(value) is None:
                    return False
    return True


def _id_key(block: object) -> str | None:
    """The id field of a tool_use or tool_result block (a relayed history's blocks may be any JSON value)."""
    kind = block.get("type") if isinstance(block, dict) else None
    return _ID_KEYS.get(kind) if isinstance(kind, str) else None


def _fit_block_id(rule: IdRule, block: object) -> object:
    key = _id_key(block)
    if key is None or not isinstance(block, dict) or not isinstance(block.get(key), str):
        return block
    return {**block, key: fit_tool_id(rule, block[key])}


def fold_anthropic_system(body: dict[str, object]) -> dict[str, object]:
    """An Anthropic-shaped body whose ``role: system`` messages joined its ``system`` (for third-party
    Anthropic-compatible hosts, which accept only user and assistant turns); ``body`` itself when it has none."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not any(isinstance(m, dict) and m.get("role") == "system" for m in messages):
        return body
    system = body.get("system")
    blocks: list[object] = [{"type": "text", "text": system}] if isinstance(system, str) and system else []
    if isinstance(system, list):
        blocks.extend(system)
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "system":
            content = message.get("content")
            if isinstance(content, str):
                blocks.append({"type": "text", "text": content})
            elif isinstance(content, list):
                blocks.extend(b for b in content if isinstance(b, dict) and b.get("type") == "text")
    kept = [m for m in messages if not (isinstance(m, dict) and m.get("role") == "system")]
    return {**body, "system": blocks, "messages": kept}


# --- the table ------------------------------------------------------------------------------------------------
# Each entry cites the page it is written from. The conformance fakes (tests/conformance/refusals.py) check the
# same rules independently, from the same pages, and answer the provider's documented status and message.

# https://docs.anthropic.com/en/api/messages : tool_use.id must match ^[a-zA-Z0-9_-]+$ (ids of other providers,
# e.g. Kimi's "functions.bash:0", are refused with "String should match pattern").
ANTHROPIC_IDS = IdRule(r"[a-zA-Z0-9_-]+", prefix="toolu_", what="^[a-zA-Z0-9_-]+$")
# https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolUseBlock.html : toolUseId
# ^[a-zA-Z0-9_-]+$, 1 to 64 characters.
BEDROCK_IDS = IdRule(r"[a-zA-Z0-9_-]{1,64}", prefix="tooluse_", what="^[a-zA-Z0-9_-]{1,64}$")
# https://platform.openai.com/docs/api-reference/chat/create : messages[].tool_calls[].id, at most 40 characters
# ("string too long. Expected a string with maximum length 40").
OPENAI_IDS = IdRule(r".{1,40}", prefix="call_", what="at most 40 characters")
# https://docs.mistral.ai/capabilities/function_calling : "Tool call id was … but must be a-z, A-Z, 0-9, with a
# length of 9" (also enforced by the Mistral chat templates of vLLM and Ollama: mistral-common's validator).
MISTRAL_IDS = IdRule(r"[a-zA-Z0-9]{9}", length=9, what="9 characters a-z, A-Z, 0-9")

ANTHROPIC = Rules(reference="https://docs.anthropic.com/en/api/messages", tool_ids=ANTHROPIC_IDS)

# Anthropic fields and the betas each needs: https://docs.anthropic.com/en/api/beta-headers and
# https://docs.anthropic.com/en/docs/build-with-claude/context-editing (context_management).
_CONTEXT_BETAS = ("context-management-2025-06-27", "compact-2026-01-12")
_ANTHROPIC_CORE = frozenset(
    {
        "anthropic_version",
        "messages",
        "max_tokens",
        "system",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "context_management",
    }
)
# https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-request-response.html
# The InvokeModel body: anthropic_version, anthropic_beta (a list), and the Messages fields above; no model,
# stream, metadata, service_tier, container, mcp_servers or tags ("extraneous key [...] is not permitted");
# context_management only with its beta ("context_management: Extra inputs are not permitted").
BEDROCK_BETAS = frozenset(
    {
        "computer-use-2025-01-24",
        "computer-use-2025-11-24",
        "token-efficient-tools-2025-02-19",
        "interleaved-thinking-2025-05-14",
        "output-128k-2025-02-19",
        "fine-grained-tool-streaming-2025-05-14",
        "context-1m-2025-08-07",
        "context-management-2025-06-27",
        "compact-2026-01-12",
        "effort-2025-11-24",
        "tool-search-tool-2025-10-19",
        "tool-examples-2025-10-29",
    }
)
BEDROCK = Rules(
    reference="https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html",
    tool_ids=BEDROCK_IDS,
    anthropic_fields=_ANTHROPIC_CORE | {"anthropic_beta"},
    betas=BEDROCK_BETAS,
    beta_fields={"context_management": _CONTEXT_BETAS},
)
# https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/use-claude : rawPredict bodies are
# Anthropic Messages with anthropic_version "vertex-2023-10-16" and no model; the Claude features Vertex lists
# exclude the MCP connector, code execution containers and service tiers; betas by the anthropic-beta header.
VERTEX_BETAS = frozenset(
    {
        "computer-use-2025-01-24",
        "computer-use-2025-11-24",
        "token-efficient-tools-2025-02-19",
        "interleaved-thinking-2025-05-14",
        "output-128k-2025-02-19",
        "context-1m-2025-08-07",
        "context-management-2025-06-27",
        "compact-2026-01-12",
        "tool-search-tool-2025-10-19",
        "web-search-2025-03-05",
    }
)
VERTEX = Rules(
    reference="https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/use-claude",
    tool_ids=ANTHROPIC_IDS,  # Claude on Vertex; Gemini function-call ids have no documented format
    anthropic_fields=_ANTHROPIC_CORE | {"stream", "metadata"},
    betas=VERTEX_BETAS,
    beta_fields={"context_management": _CONTEXT_BETAS},
)

# https://platform.openai.com/docs/guides/reasoning : o-series and gpt-5 reasoning models take reasoning_effort
# and max_completion_tokens and refuse sampling parameters ("Unsupported parameter: 'temperature' is not
# supported with this model."); gpt-5-chat and the gpt-4 line refuse reasoning_effort.
OPENAI = Rules(
    reference="https://platform.openai.com/docs/api-reference/chat/create",
    tool_ids=OPENAI_IDS,
    reasoning_models=r"^(o\d|gpt-5(?!-chat)|codex-mini|gpt-oss)",
    strict_models=r"^(o\d|gpt-5(?!-chat)|codex-mini)",
    strict_refuses=frozenset(
        {"temperature", "top_p", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "logit_bias"}
    ),
)
# https://docs.x.ai/docs/guides/reasoning : only grok-3-mini takes reasoning_effort (grok-4 refuses it); reasoning
# models refuse presence_penalty, frequency_penalty and stop.
XAI = Rules(
    reference="https://docs.x.ai/docs/guides/reasoning",
    system_turns="fold",
    reasoning_models=r"^grok-3-mini",
    strict_models=r"^grok-(3-mini|4)",
    strict_refuses=frozenset({"presence_penalty", "frequency_penalty", "stop"}),
)
# https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post : the request schema
# forbids other fields (422 "extra_forbidden", "Extra inputs are not permitted"); no user, stream_options,
# max_completion_tokens (max_tokens), seed (random_seed), reasoning_effort.
MISTRAL = Rules(
    reference="https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post",
    fields=frozenset(
        {
            "model",
            "messages",
            "temperature",
            "top_p",
            "max_tokens",
            "stream",
            "stop",
            "random_seed",
            "response_format",
            "tools",
            "tool_choice",
            "presence_penalty",
            "frequency_penalty",
            "n",
            "prediction",
            "parallel_tool_calls",
            "prompt_mode",
            "safe_prompt",
        }
    ),
    renamed={"seed": "random_seed", "max_completion_tokens": "max_tokens"},
    tool_ids=MISTRAL_IDS,
    system_turns="fold",
)
# https://inference-docs.cerebras.ai/api-reference/chat-completions : frequency_penalty, logit_bias,
# presence_penalty, parallel_tool_calls and service_tier are refused with a 400 ("… is not supported").
CEREBRAS = Rules(
    reference="https://inference-docs.cerebras.ai/api-reference/chat-completions",
    refused=frozenset({"frequency_penalty", "logit_bias", "presence_penalty", "parallel_tool_calls", "service_tier"}),
    system_turns="fold",
)
# https://console.groq.com/docs/openai : logprobs, logit_bias, top_logprobs and n other than 1 are refused (400).
GROQ = Rules(
    reference="https://console.groq.com/docs/openai",
    refused=frozenset({"logprobs", "logit_bias", "top_logprobs"}),
    system_turns="fold",
)
# https://api-docs.deepseek.com/guides/thinking_mode : in thinking mode an assistant turn that called tools must
# carry its reasoning_content back in every later request, else 400.
DEEPSEEK = Rules(
    reference="https://api-docs.deepseek.com/guides/thinking_mode",
    system_turns="fold",
    reasoning_back="reasoning_content",
    reasoning_models=r"^deepseek-(reasoner|r1|v4)",  # reasoning_effort: low/high/max in thinking mode
)
# https://openrouter.ai/docs/use-cases/reasoning-tokens#preserving-reasoning-blocks : reasoning_details go back
# unmodified on the assistant message (Gemini 3 behind OpenRouter refuses a tool turn without its signature).
OPENROUTER = Rules(
    reference="https://openrouter.ai/docs/use-cases/reasoning-tokens",
    system_turns="fold",
    reasoning_back="reasoning_details",
)
# Any other OpenAI-compatible server (Qwen/vLLM/Ollama chat templates refuse a system message that is not
# first: https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html#chat-template).
COMPAT = Rules(reference="https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html", system_turns="fold")
# https://docs.cohere.com/reference/chat and https://ai.google.dev/api/caching#FunctionCall : no id format.
NATIVE = Rules()

_MISTRAL_MODEL = re.compile(r"(^|/)(mistral|mixtral|ministral|codestral|devstral|magistral|pixtral)", re.I)


def tool_id_rule(rules: Rules, model: str) -> IdRule | None:
    """The id format for one model: the type's, or Mistral's for Mistral models a local server runs (their chat
    templates validate ids the way Mistral's API does)."""
    if rules.tool_ids is None and _MISTRAL_MODEL.search(model):
        return MISTRAL_IDS
    return rules.tool_ids


# https://learn.microsoft.com/azure/ai-foundry/openai/how-to/reasoning and
# https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle : reasoning models need a recent
# api-version ("Model {0} is enabled only for api versions 2024-12-01-preview and later"); the default of
# config.AzureOptions meets every entry.
AZURE_MIN_API_VERSION = (
    (r"^(o3|o4|gpt-5|codex-mini)", "2025-04-01-preview"),
    (r"^o1", "2024-12-01-preview"),
)


def min_api_version(model: str) -> str | None:
    """The oldest Azure api-version that serves ``model`` (a deployment named like its model), if known."""
    bare = model.rsplit("/", 1)[-1].lower()
    return next((version for pattern, version in AZURE_MIN_API_VERSION if re.search(pattern, bare)), None)


def api_version_too_old(configured: str, model: str) -> str | None:
    """The minimum version when ``configured`` is older than it (api-versions sort by their date)."""
    needed = min_api_version(model)
    return needed if needed is not None and configured[:10] < needed[:10] else None
