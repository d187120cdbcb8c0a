"""Amazon Bedrock adapter: Converse / ConverseStream, SigV4-signed or with a Bedrock API key.

Every model, Claude included, goes through Converse by default: one request shape for all families, usage
with cache tokens, reasoning blocks with signatures, and tool use. The provider option ``api: invoke`` sends
Claude models through InvokeModel instead (Anthropic Messages bodies and Anthropic stream events, built by
the Anthropic translator). Friendly names (``claude-sonnet-4-5``) resolve to cross-region inference
profiles for the provider's ``region`` option; full ids and ARNs pass through.

Auth: with an ``api_key`` (a Bedrock API key, as ``AWS_BEARER_TOKEN_BEDROCK`` holds) we send it as a bearer
token; otherwise requests are signed with SigV4 using botocore's default credential chain (environment,
shared config, SSO, instance role). Credential resolution and refresh can block, so they run in a thread.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer, ParserError
from botocore.session import get_session

from bifrostc.runtime import config
from bifrostc.runtime.errors import AuthenticationFailed, UpstreamError
from bifrostc.runtime.providers import registry
from bifrostc.runtime.providers.native_http import raise_for_status, relay_events, request_timeout, transport_errors
from bifrostc.runtime.translate import anthropic as anthropic_translate
from bifrostc.runtime.translate import bedrock as bedrock_translate
from bifrostc.runtime.translate.bedrock_stream import EXCEPTION_STATUS, StreamParser
from bifrostc.runtime.types import ChatRequest, ChatResponse, StreamEvent

SERVICE = "bedrock"
EVENTSTREAM = "application/vnd.amazon.eventstream"
ANTHROPIC_VERSION = "bedrock-2023-05-31"


class BedrockAdapter:
    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None:
        self.provider = provider
        self.client = client
        self.options = provider.options_as(config.BedrockOptions)
        self.region = (
            self.options.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        ) or "us-east-1"
        default_url = registry.default_base_url(provider.type, replace(self.options, region=self.region))
        self.base_url = (provider.base_url or default_url).rstrip("/")
        self._credentials: Credentials | None = None

    def uses_invoke(self, model_id: str) -> bool:
        """Claude through InvokeModel (raw Anthropic Messages bodies) when the provider sets ``api: invoke``."""
        return self.options.api == "invoke" and bedrock_translate.is_anthropic(model_id)

    async def send(self, request: ChatRequest, *, model: str, api_key: str | None) -> ChatResponse:
        model_id = bedrock_translate.resolve_model_id(model, self.region)
        invoke = self.uses_invoke(model_id)
        body = invoke_body(request, model_id) if invoke else bedrock_translate.build_request(request, model=model_id)
        action = "invoke" if invoke else "converse"
        http_request = await self._build(action, model_id, body, api_key, accept="application/json")
        with transport_errors(self.provider.name):
            response = await self.client.send(http_request)
            await _raise_bedrock_error(response, self.provider.name)
        if invoke:
            return anthropic_translate.parse_response(response.json())
        request_id = response.headers.get("x-amzn-requestid", "")
        return bedrock_translate.parse_response(response.json(), model=model_id, response_id=request_id)

    async def stream(self, request: ChatRequest, *, model: str, api_key: str | None) -> AsyncIterator[StreamEvent]:
        model_id = bedrock_translate.resolve_model_id(model, self.region)
        invoke = self.uses_invoke(model_id)
        body = invoke_body(request, model_id) if invoke else bedrock_translate.build_request(request, model=model_id)
        action = "invoke-with-response-stream" if invoke else "converse-stream"
        http_request = await self._build(action, model_id, body, api_key, accept=EVENTSTREAM)
        with transport_errors(self.provider.name):
            response = await self.client.send(http_request, stream=True)
        try:
            with transport_errors(self.provider.name):
                await _raise_bedrock_error(response, self.provider.name)
            request_id = response.headers.get("x-amzn-requestid") or "bedrock"
            feed, finish = _invoke_parser() if invoke else _converse_parser(model_id, request_id)
            frames = decode_event_stream(response.aiter_bytes())
            first = await _first_frame(frames, self.provider.name)
            async for event in relay_events(_prepend(first, frames), feed, finish, self.provider.name):
                yield event
        finally:
            await response.aclose()

    async def _build(
        self, action: str, model_id: str, body: dict[str, Any], api_key: str | None, *, accept: str
    ) -> httpx.Request:
        url = f"{self.base_url}/model/{quote(model_id, safe='')}/{action}"
        content = json.dumps(body).encode()
        headers = {**dict(self.provider.headers), "content-type": "application/json", "accept": accept}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        else:
            headers = sign_request("POST", url, content, headers, await self._frozen_credentials(), self.region)
        http_request = self.client.build_request("POST", url, content=content, headers=headers)
        http_request.extensions["timeout"] = request_timeout(self.provider.network).as_dict()
        return http_request

    async def _frozen_credentials(self) -> Any:
        if self._credentials is None:
            self._credentials = await asyncio.to_thread(get_session().get_credentials)
            if self._credentials is None:
                raise AuthenticationFailed(
                    f"{self.provider.name}: no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                    "a profile, or give the provider a Bedrock API key)"
                )
        return await asyncio.to_thread(self._credentials.get_frozen_credentials)


def sign_request(
    method: str, url: str, content: bytes, headers: dict[str, str], credentials: Any, region: str
) -> dict[str, str]:
    """Return ``headers`` plus the SigV4 ``authorization``, ``x-amz-date`` (and session token) headers."""
    aws_request = AWSRequest(method=method, url=url, data=content, headers=headers)
    SigV4Auth(credentials, SERVICE, region).add_auth(aws_request)
    return dict(aws_request.headers.items())


async def _raise_bedrock_error(response: httpx.Response, provider: str) -> None:
    try:
        await raise_for_status(response, provider)
    except UpstreamError as exc:
        error_type = response.headers.get("x-amzn-errortype", "").split(":", 1)[0]
        if error_type:
            exc.message = f"{provider}: {error_type}: {exc.message.removeprefix(provider + ': ')}"
            exc.args = (exc.message,)
        raise


async def decode_event_stream(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """``application/vnd.amazon.eventstream`` bytes -> (event or exception type, JSON payload)."""
    buffer = EventStreamBuffer()
    async for chunk in chunks:
        buffer.add_data(chunk)
        try:
            messages = list(buffer)
        except ParserError as exc:
            raise ValueError(f"corrupt event-stream frame: {exc}") from exc
        for message in messages:
            headers = message.headers
            kind = headers.get(":message-type", "event")
            if kind == "event":
                name = headers.get(":event-type", "")
            elif kind == "exception":
                name = headers.get(":exception-type", "")
            else:
                name = "internalServerException"
            payload = json.loads(message.payload) if message.payload else {}
            if kind == "error":
                payload = {"message": headers.get(":error-message", headers.get(":error-code", "error"))}
            yield name, payload


Frame = tuple[str, dict[str, Any]]


async def _first_frame(frames: AsyncIterator[Frame], provider: str) -> Frame:
    """An exception as the very first frame is raised, so the router can retry or fall back."""
    try:
        first = await anext(frames)
    except StopAsyncIteration:
        raise UpstreamError(f"{provider}: empty event stream", status=502, provider=provider) from None
    except (ValueError, httpx.TransportError) as exc:
        raise UpstreamError(f"{provider}: broken event stream ({exc})", status=502, provider=provider) from exc
    name, payload = first
    if name in EXCEPTION_STATUS:
        message = str(payload.get("message") or name)
        raise UpstreamError(f"{provider}: {name}: {message}", status=EXCEPTION_STATUS[name], provider=provider)
    return first


async def _prepend(first: Frame, rest: AsyncIterator[Frame]) -> AsyncIterator[Frame]:
    yield first
    async for item in rest:
        yield item


FeedAndFinish = tuple[Callable[[Frame], list[StreamEvent]], Callable[[], list[StreamEvent]]]


def _converse_parser(model_id: str, request_id: str) -> FeedAndFinish:
    parser = StreamParser(model=model_id, response_id=request_id)

    def feed(frame: Frame) -> list[StreamEvent]:
        return parser.feed(*frame)

    return feed, parser.finish


def _invoke_parser() -> FeedAndFinish:
    """InvokeModelWithResponseStream: each ``chunk`` event carries one base64 Anthropic stream event."""
    parser = anthropic_translate.StreamParser()
    converse_errors = StreamParser(model="")

    def feed(frame: Frame) -> list[StreamEvent]:
        name, payload = frame
        if name != "chunk":
            return converse_errors.feed(name, payload) if name in EXCEPTION_STATUS else []
        data = json.loads(base64.b64decode(payload.get("bytes", "")))
        return parser.feed(str(data.get("type", "")), data)

    return feed, parser.finish


def invoke_body(request: ChatRequest, model_id: str) -> dict[str, Any]:
    """An Anthropic Messages body as Bedrock's InvokeModel wants it: version pinned, no model, no stream flag."""
    body = anthropic_translate.build_request(request, model=model_id)
    body.pop("model", None)
    body.pop("stream", None)
    body["anthropic_version"] = ANTHROPIC_VERSION
    return body
