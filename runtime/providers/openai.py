"""OpenAI Chat Completions adapter; the OpenAI-compatible family and Azure build on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from bifrostc.runtime import config
from bifrostc.runtime.http import UpstreamReply
from bifrostc.runtime.providers import registry, rules
from bifrostc.runtime.providers.http_base import HttpAdapter
from bifrostc.runtime.providers.model_caps import (
    MAX_TOKENS_FIELDS,
    fit_declared,
    fit_model_class,
    fit_responses,
    fit_to_model,
    upstream_api,
)
from bifrostc.runtime.transport.request_bytes import with_model
from bifrostc.runtime.types import ChatRequest, ChatResponse, StreamEvent

API_MEMO_MAX = 1024  # models whose API `api` remembers


class OpenAIAdapter(HttpAdapter):
    """OpenAI and every OpenAI-compatible type; the registry gives each type's host and quirks."""

    dialect = "openai"

    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None:
        kind = registry.provider_type(provider.type)
        options = provider.options_as(config.OpenAIOptions)
        self.default_base_url = kind.default_base_url(options)
        super().__init__(provider, client)
        self.max_tokens_field = options.max_tokens_field or kind.caps.max_tokens_field
        # Ask for the final usage chunk (stream_options.include_usage) where the server accepts it.
        self.stream_usage = kind.caps.stream_usage if options.stream_usage is None else options.stream_usage
        self.rules = kind.rules
        self.system_turns = options.system_turns or kind.rules.system_turns
        self._apis: dict[str, str] = {}

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def url(self, path: str, model: str) -> str:
        return f"{self.base_url}/{path}"

    def params(self) -> dict[str, str] | None:
        return None

    def api(self, model: str) -> str:
        """The API ``model`` is called on: responses (options `api`, the Responses-only families) or chat.
        Asked twice per request; remembered per model (bounded: a wildcard route's models are the client's)."""
        found = self._apis.get(model)
        if found is None:
            found = upstream_api(self.provider, model)
            if len(self._apis) < API_MEMO_MAX:
                self._apis[model] = found
        return found

    def responses_url(self, model: str) -> str:
        return self.url("responses", model)

    def responses_model(self, model: str) -> str:
        """The `model` of a Responses body (Azure: the deployment)."""
        return model

    def responses_body(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        from bifrostc.runtime.translate import responses_upstream

        ids = rules.tool_id_rule(self.rules, model)
        fitted = rules.fit_request(self.rules, request, tool_ids=ids, system_turns=self.system_turns)
        body = responses_upstream.build_request(fitted, model=self.responses_model(model))
        body["stream"] = stream
        return fit_responses(body, self.provider, model)

    async def send_responses(self, request: ChatRequest, model: str, api_key: str | None) -> ChatResponse:
        from bifrostc.runtime.translate import responses_upstream

        body = self.responses_body(request, model, stream=False)
        raw = await self.post_json(self.responses_url(model), body, api_key, params=self.params())
        return responses_upstream.parse_response(raw, tool_names=responses_upstream.tool_name_map(request))

    async def stream_responses(
        self, request: ChatRequest, model: str, api_key: str | None
    ) -> AsyncIterator[StreamEvent]:
        from bifrostc.runtime.translate import responses_upstream
        from bifrostc.runtime.translate.responses_upstream_stream import StreamParser

        body = self.responses_body(request, model, stream=True)
        response = await self.open(self.responses_url(model), body, api_key, params=self.params())
        parser = StreamParser(tool_names=responses_upstream.tool_name_map(request))
        async for event in self.relay_sse(response, lambda frame: parser.feed(frame[1]), parser.finish):
            yield event

    def shape(self, body: dict[str, Any], *, stream: bool) -> dict[str, Any]:
        """Apply this provider's quirks to a Chat Completions body."""
        for name in MAX_TOKENS_FIELDS:
            if name in body and name != self.max_tokens_field:
                body[self.max_tokens_field] = body.pop(name)
        fit_to_model(body, self.provider, str(body.get("model", "")), self.max_tokens_field)
        body["stream"] = stream
        if stream and self.stream_usage:
            _ask_for_usage(body)
        else:  # the option (or the type) says the server refuses it: never sent
            body.pop("stream_options", None)
        rules.fit_fields(self.rules, body)
        return body

    def build(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        """The Chat Completions body for this provider: conversation fitted to its rules, then its quirks."""
        from bifrostc.runtime.translate import openai as dialect

        ids = rules.tool_id_rule(self.rules, model)
        fitted = rules.fit_request(self.rules, request, tool_ids=ids, system_turns=self.system_turns)
        body = dialect.build_request(fitted, model=model, reasoning_back=self.rules.reasoning_back)
        return self.shape(body, stream=stream)

    async def send(self, request: ChatRequest, *, model: str, api_key: str | None) -> ChatResponse:
        from bifrostc.runtime.translate import openai as dialect

        if self.api(model) == "responses":
            return await self.send_responses(request, model, api_key)
        body = self.build(request, model, stream=False)
        url = self.url("chat/completions", model)
        raw = await self.post_json(url, body, api_key, params=self.params())
        # Tool names over OpenAI's 64-char limit were shortened on the way out; map them back.
        return dialect.parse_response(raw, tool_names=dialect.tool_name_map(request))

    async def stream(self, request: ChatRequest, *, model: str, api_key: str | None) -> AsyncIterator[StreamEvent]:
        from bifrostc.runtime.translate import openai as dialect

        if self.api(model) == "responses":
            async for event in self.stream_responses(request, model, api_key):
                yield event
            return
        body = self.build(request, model, stream=True)
        response = await self.open(self.url("chat/completions", model), body, api_key, params=self.params())
        parser = dialect.StreamParser(tool_names=dialect.tool_name_map(request))
        async for event in self.relay_sse(response, lambda frame: parser.feed(frame[1]), parser.finish):
            yield event

    async def passthrough(
        self,
        body: dict[str, Any],
        *,
        model: str,
        api_key: str | None,
        client_headers: Mapping[str, str],
        stream: bool = False,  # the body says it
        raw: bytes = b"",  # the client's bytes of `body`: a Responses body that fits is sent as them
    ) -> UpstreamReply:
        """Forward an OpenAI client's body with only `model` rewritten; the caller relays the raw bytes. A model
        served by the Responses API is sent a Responses client's body (the dialects see to it): as the client's
        bytes with only the model replaced when nothing else changes (`with_model`; Codex sends the model first),
        else serialized again. A Chat Completions body is always serialized again: its rewrites are many."""
        if self.api(model) == "responses":
            upstream_model = self.responses_model(model)
            fitted = fit_responses(body, self.provider, model)
            as_sent = with_model(raw, body.get("model"), upstream_model) if raw and fitted is body else None
            content = as_sent if as_sent is not None else {**fitted, "model": upstream_model}
            return await self.open(self.responses_url(model), content, api_key, params=self.params())
        url = self.url("chat/completions", model)
        body = {**fit_model_class(fit_declared(body, self.provider), self.provider, model), "model": model}
        if body.get("stream") is True and self.stream_usage:
            _ask_for_usage(body)  # billed from the upstream's own count; the relay reader drops what was not asked
        if self.rules.fields is not None or self.rules.refused:
            rules.fit_fields(self.rules, body)  # a copy: fit_declared returns the client's dict when it fits
        if self.system_turns == "fold":
            body = rules.fold_openai_system(body)
        return await self.open(url, body, api_key, params=self.params())

    async def embeddings(self, body: dict[str, Any], *, model: str, api_key: str | None) -> dict[str, Any]:
        url = self.url("embeddings", model)
        return await self.post_json(url, {**body, "model": model}, api_key, params=self.params())


def _ask_for_usage(body: dict[str, Any]) -> None:
    """Ask for the final usage chunk (`stream_options.include_usage`), keeping the other stream options."""
    body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
