"""What a 400/413 from a non-Anthropic family says, in the words Claude Code's recovery matches.

Claude Code recovers from an upstream that rejects a capability by matching the status and the error wording
(compact on `prompt is too long`, drop images on Bedrock's `Input is too long.`, strip thinking blocks on a bad
signature, drop `output_config.effort`...). Other families word those rejections their own way, so the
mapper answers with the wording the client knows, or with the gateway contract's stable token
`capability_rejected: <class>`, which the client matches exactly like the wording. Classes are tried in the
contract's order; a message that matches none keeps the upstream's own words. Classify conservatively: a
wrong token triggers the wrong recovery.
"""

from __future__ import annotations

import re

TOKEN = "capability_rejected: "
BEDROCK_TOO_LONG = "Input is too long."

# The overflow wordings Claude Code itself knows, and how other families say "the prompt does not fit".
_KNOWN_OVERFLOW = ("prompt is too long", "input is too long for requested model")
_OVERFLOW_PHRASES = (
    "maximum context length",  # OpenAI family, Azure, vLLM
    "context_length_exceeded",
    "exceeds the context window",
    "context window",
    "context length",
    "input token count",  # Gemini / Vertex: "The input token count (N) exceeds the maximum number of tokens..."
    "too many input tokens",  # Bedrock Converse
    "too many tokens",  # Cohere: "too many tokens: total number of tokens in the prompt cannot exceed ..."
    "maximum prompt length",
    "prompt exceeds max length",
    "exceeded model token limit",
)
# Policy refusals and schema length limits that mention "too long" but are not the prompt.
_NOT_OVERFLOW = ("policy_blocked", "string too long. expected a string with maximum length", "expected maxlength")
# Provider-specific rejections of a capability, as the contract's classes (lower-cased substrings, all present).
_PROVIDER_SPECIFIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("effort_unsupported", ("reasoning_effort", "not supported")),  # OpenAI chat: "Unsupported parameter: ..."
    ("effort_unsupported", ("reasoning.effort", "not supported")),  # OpenAI Responses
    ("effort_unsupported", ("reasoning_effort", "unrecognized request argument")),
    ("image_block", ("image_url", "only supported by certain models")),  # a text-only OpenAI model
    ("image_block", ("invalid image",)),
    ("image_block", ("unable to process input image",)),  # Gemini
    ("document_block", ("unable to process input pdf",)),
)
# (regex, group of the prompt's size, group of the limit)
_OVERFLOW_NUMBERS = (
    (re.compile(r"maximum context length is (\d+) tokens.*?(?:resulted in|requested) (\d+) tokens", re.I | re.S), 2, 1),
    (re.compile(r"input token count \((\d+)\) exceeds the maximum number of tokens allowed \((\d+)\)", re.I), 1, 2),
    (re.compile(r"prompt cannot exceed (\d+)\D{1,20}received (\d+)", re.I), 2, 1),  # Cohere
    (re.compile(r"prompt is too long[^0-9]*(\d+)\s*tokens?\s*>\s*(\d+)", re.I), 1, 2),
)
_SPLIT = re.compile(
    r"maximum context length is (\d+) tokens.*?\((\d+) in the messages, (\d+) in the completion\)", re.I | re.S
)
_VERTEX_SIZE = re.compile(r"the (?:request|message) size \(\d+ bytes\) exceeds [\d.]+ ?mb limit", re.I)
_BEDROCK_TOO_LONG = re.compile(r"^input is too long\.?$", re.I)

_SYSTEM_WORD = re.compile(r"system messages?\b|role .{0,2}system", re.I)
_SYSTEM_PLACEMENT = re.compile(
    r"role .{0,2}system.{0,2} must (?:precede an|follow a)|use the top-level .{0,2}system.{0,2} parameter"
    r"|text-only role .{0,2}system.{0,2} messages require"
    r"|(?:unknown variant .{0,2}system\b.{0,2}, expected|input should be) [\\'\"`]{1,2}(?:user|assistant)\b",
    re.I,
)
_THINKING_TYPE = re.compile(
    r"thinking\.type[^a-z]{1,8}(enabled|adaptive).*?not supported|\b(adaptive) thinking is not supported", re.I | re.S
)
_MEDIA_PATH = re.compile(
    r"messages[.\[]\d+[\].]+content[.\[]\d+[\].]+(?:tool_result[.\[]content[.\[]\d+[\].]+)?(image|document|pdf)"
)
_IMAGE_PHRASES = (
    "could not process image",
    "image exceeds",
    "image dimensions exceed",
    "image does not match the provided media type",
    "image cannot be empty",
    "images exceed the api limit",
    "unable to resize image",
)
_DOCUMENT_PHRASES = (
    "could not process pdf",
    "pdf pages",
    "the pdf specified was not valid",
    "the pdf specified is password protected",
    "pdf cannot be empty",
    "does not support pdf input",
    "does not support pdfs",
)


def _known_overflow(message: str) -> bool:
    lowered = message.lower()
    return any(p in lowered for p in _KNOWN_OVERFLOW)


_CONTENT_POLICY = (
    "content_filter",  # Azure OpenAI: code content_filter, "...triggering Azure OpenAI's content management policy"
    "content management policy",
    "content_policy_violation",  # OpenAI images / moderation
    "responsibleaipolicyviolation",  # Azure inner error code
    "safety settings",  # Gemini: blocked by safety settings
    "blocked by our content filters",
    "content filtering policy",  # Bedrock guardrails
)


def is_content_policy(message: str) -> bool:
    """A provider's documented refusal on content policy (not a malformed request)."""
    lowered = message.lower()
    return any(p in lowered for p in _CONTENT_POLICY)


def is_overflow(message: str) -> bool:
    """Any family's "the prompt does not fit the context window"."""
    lowered = message.lower()
    known = _known_overflow(message) or any(p in lowered for p in _OVERFLOW_PHRASES)
    return known and not any(p in lowered for p in _NOT_OVERFLOW)


def _mid_conversation_system(message: str) -> bool:
    if _SYSTEM_PLACEMENT.search(message):
        return True
    if "Unexpected role" in message and "input message role" in message:
        return True
    if "cache_control" in message and _SYSTEM_WORD.search(message):
        return True
    return "not supported" in message and re.search(r"role .{0,2}system", message, re.I) is not None


def _cache_control_field(message: str) -> bool:
    if "cache_control" not in message or _SYSTEM_WORD.search(message) or "empty text block" in message:
        return False
    if re.search(r"\bsystem\.\d+\.", message) or "tool_result" in message or re.search(r"\bttl\b", message, re.I):
        return False
    lowered = message.lower()
    refusals = ("not permitted", "cannot be set", "unknown name", "unknown field", "unrecognized", "additional propert")
    return any(word in lowered for word in refusals)


def _thinking_signature(message: str) -> bool:
    lowered = message.lower().replace("`", "")
    if "signature in thinking block" in lowered or "invalid data in redacted_thinking block" in lowered:
        return True
    if "thinking.signature" in lowered and "field required" in lowered:
        return True
    thinking = "thinking block" in lowered or "redacted_thinking" in lowered
    return thinking and ("cannot be modified" in lowered or "invalid signature" in lowered)


def _effort(message: str) -> bool:
    lowered = message.lower()
    if "effort parameter" in lowered and "not support" in lowered:
        return True
    return "output_config" in lowered and (
        "extra inputs are not permitted" in lowered or "requires a model that supports" in lowered
    )


def _media_block(message: str) -> str | None:
    found = _MEDIA_PATH.search(message)
    if found:
        return "image_block" if found.group(1) == "image" else "document_block"
    lowered = message.lower()
    if any(p in lowered for p in _IMAGE_PHRASES):
        return "image_block"
    if any(p in lowered for p in _DOCUMENT_PHRASES):
        return "document_block"
    return None


def capability_class(status: int, message: str) -> str | None:
    """The contract's class of a rejected capability (in its order) by the wordings Claude Code matches, or None."""
    if status == 413:
        return "prompt_too_long" if "context window" in message.lower() or _known_overflow(message) else None
    if status != 400:
        return None
    lowered = message.lower()
    thinking_type = _THINKING_TYPE.search(message)
    for name, matched in (
        ("mid_conv_system", _mid_conversation_system(message)),
        ("cache_control_field", _cache_control_field(message)),
        ("thinking_signature", _thinking_signature(message)),
        (
            f"thinking_type:{((thinking_type.group(1) or thinking_type.group(2)) if thinking_type else '').lower()}",
            thinking_type is not None,
        ),
        ("structured_outputs_unsupported", "output_config.format: extra inputs are not permitted" in lowered),
        ("effort_unsupported", _effort(message)),
        ("media_budget", "too much media" in lowered),
    ):
        if matched:
            return name
    media = _media_block(message)
    if media:
        return media
    if _known_overflow(message):
        return "prompt_too_long"
    if "input length and `max_tokens` exceed context limit" in lowered:
        return "max_tokens_context_overflow"
    return None


def _overflow_sizes(message: str) -> tuple[int, int] | None:
    for pattern, size, limit in _OVERFLOW_NUMBERS:
        found = pattern.search(message)
        if found:
            return int(found.group(size)), int(found.group(limit))
    return None


def provider_specific_class(message: str) -> str | None:
    lowered = message.lower()
    return next((name for name, words in _PROVIDER_SPECIFIC if all(w in lowered for w in words)), None)


def client_wording(status: int, message: str) -> str:
    """`message` (a 400/413 a non-Anthropic family sent) as Claude Code's recovery reads it."""
    stripped = message.strip()
    if status == 400 and (_BEDROCK_TOO_LONG.match(stripped) or _VERTEX_SIZE.search(stripped)):
        return BEDROCK_TOO_LONG  # the client drops older images, then compacts, on exactly this sentence
    if capability_class(status, stripped) is not None:
        return message  # already in words the client matches
    if is_overflow(stripped):
        return _overflow_wording(stripped)
    kind = provider_specific_class(stripped) if status == 400 else None
    return f"{TOKEN}{kind}" if kind else message


def _overflow_wording(message: str) -> str:
    """Anthropic's own wording: with the sizes when the upstream gave them (the client reads them)."""
    split = _SPLIT.search(message)
    if split:  # OpenAI counts max_tokens in: the prompt alone may fit, then it is max_tokens that overflows
        prompt, output, limit = (int(split.group(i)) for i in (2, 3, 1))
        if prompt < limit:
            return (
                f"input length and `max_tokens` exceed context limit: {prompt} + {output} > {limit}, "
                "decrease input length or `max_tokens` and try again"
            )
    sizes = _overflow_sizes(message)
    if sizes is not None and sizes[0] > sizes[1]:
        return f"prompt is too long: {sizes[0]} tokens > {sizes[1]} maximum"
    return f"prompt is too long: {message}"
