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
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from botocore.auth import SigV4Auth  # type: ignore[import-untyped, unused-ignore]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped, unused-ignore]
from botocore.credentials import Credentials  # type: ignore[import-untyped, unused-ignore]
from botocore.session import get_session  # type: ignore[import-untyped, unused-ignore]

from bifrostc.runtime import config
from bifrostc.runtime.errors import AuthenticationFailed, UpstreamError
from bifrostc.runtime.http import UpstreamReply
from bifrostc.runtime.providers import registry, rules
from bifrostc.runtime.providers.http_base import HttpAdapter
from bifrostc.runtime.translate import anthropic as anthropic_translate
from bifrostc.runtime.translate import bedrock as bedrock_translate
from bifrostc.runtime.translate.bedrock_stream import EXCEPTION_STATUS, StreamParser
from bifrostc.runtime.translate.common import ANTHROPIC_BETAS
from bifrostc.runtime.transport.readers import Frame, event_stream_frames
from bifrostc.runtime.types import ChatRequest, ChatResponse, StreamEvent

SERVICE = "bedrock"
EVENTSTREAM = "application/vnd.amazon.eventstream"
ANTHROPIC_VERSION = "bedrock-2023-05-31"
# What CountTokens' ConverseTokensRequest takes (inference settings are not part of it)
COUNTED_CONVERSE_FIELDS = ("messages", "system", "toolConfig", "additionalModelRequestFields")


class BedrockAdapter(HttpAdapter):
    dialect = "bedrock"  # a Converse client's body is sent as it is, re-signed (runtime/dialects/bedrock.py)

    def __init__(self, provider: config.Provider, client: httpx.AsyncClient) -> None:
        super().__init__(provider, client)
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
        request = rules.fit_request(rules.BEDROCK, request)  # toolUseId: ^[a-zA-Z0-9_-]{1,64}$
        invoke = self.uses_invoke(model_id)
        body = invoke_body(request, model_id) if invoke else bedrock_translate.build_request(request, model=model_id)
        response = await self._call("invoke" if invoke else "converse", model_id, body, api_key, "application/json")
        request_id = response.headers.get("x-amzn-requestid", "")
        raw = await self.read_json(response)
        if invoke:
            return anthropic_translate.parse_response(raw)
        return bedrock_translate.parse_response(raw, model=model_id, response_id=request_id)

    async def stream(self, request: ChatRequest, *, model: str, api_key: str | None) -> AsyncIterator[StreamEvent]:
        model_id = bedrock_translate.resolve_model_id(model, self.region)
        request = rules.fit_request(rules.BEDROCK, request)  # toolUseId: ^[a-zA-Z0-9_-]{1,64}$
        invoke = self.uses_invoke(model_id)
        body = invoke_body(request, model_id) if invoke else bedrock_translate.build_request(request, model=model_id)
        action = "invoke-with-response-stream" if invoke else "converse-stream"
        response = await self._call(action, model_id, body, api_key, EVENTSTREAM)
        request_id = response.headers.get("x-amzn-requestid") or "bedrock"
        feed, finish = _invoke_parser() if invoke else _converse_parser(model_id, request_id)
        async for event in self.relay_frames(response, event_stream_frames(response), feed, finish):
            yield event

    async def count_tokens(
        self, body: dict[str, Any], *, model: str, api_key: str | None, client_headers: Mapping[str, str]
    ) -> dict[str, Any]:
        """CountTokens (``/model/{id}/count-tokens``): the prompt as the Converse (or InvokeModel) call sends it."""
        model_id = bedrock_translate.resolve_model_id(model, self.region)
        request = anthropic_translate.parse_request(body)
        if self.uses_invoke(model_id):
            counted: dict[str, Any] = {"invokeModel": {"body": orjson.dumps(invoke_body(request, model_id)).decode()}}
        else:
            built = bedrock_translate.build_request(request, model=model_id)
            counted = {"converse": {k: built[k] for k in COUNTED_CONVERSE_FIELDS if built.get(k)}}
        response = await self._call("count-tokens", model_id, {"input": counted}, api_key, "application/json")
        raw = await self.read_json(response)
        total = raw.get("inputTokens")
        if not isinstance(total, int) or isinstance(total, bool):
            raise UpstreamError(f"{self.provider.name}: CountTokens answered without inputTokens", status=502)
        return {"input_tokens": total}

    async def passthrough(
        self,
        body: dict[str, Any],
        *,
        model: str,
        api_key: str | None,
        client_headers: Mapping[str, str],
        stream: bool = False,
        raw: bytes = b"",  # the client's bytes of `body` (sent from only by the Anthropic adapter)
    ) -> UpstreamReply:
        """A Converse client's own body to Converse (signed with this provider's credentials)."""
        model_id = bedrock_translate.resolve_model_id(model, self.region)
        action, accept = ("converse-stream", EVENTSTREAM) if stream else ("converse", "application/json")
        return await self._call(action, model_id, body, api_key, accept)

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    async def _call(
        self, action: str, model_id: str, body: dict[str, Any], api_key: str | None, accept: str
    ) -> UpstreamReply:
        url = self._url(f"{self.base_url}/model/{quote(model_id, safe='')}/{action}")
        content = orjson.dumps(body)
        if api_key:
            return await self.post(url, content, self._headers(api_key, {"accept": accept}))
        headers = {**self.static_headers, "content-type": "application/json", "accept": accept}
        signed = sign_request("POST", str(url), content, headers, await self._frozen_credentials(), self.region)
        return await self.post(url, content, signed)

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
        data = orjson.loads(base64.b64decode(payload.get("bytes", "")))
        return parser.feed(str(data.get("type", "")), data)

    return feed, parser.finish


def invoke_body(request: ChatRequest, model_id: str) -> dict[str, Any]:
    """An Anthropic Messages body as Bedrock's InvokeModel wants it: version pinned, no model, no stream flag,
    only the fields and betas Bedrock accepts (providers/rules.py BEDROCK; betas go in the body)."""
    body = anthropic_translate.build_request(request, model=model_id)
    body["anthropic_version"] = ANTHROPIC_VERSION
    betas = rules.filter_betas(rules.BEDROCK, request.extra.get(ANTHROPIC_BETAS))
    if betas:
        body["anthropic_beta"] = betas
    rules.fit_anthropic_body(rules.BEDROCK, body, betas)
    return body
