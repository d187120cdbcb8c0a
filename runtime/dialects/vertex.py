"""Claude on Vertex AI at /vertex (what ``ANTHROPIC_VERTEX_BASE_URL`` calls):
``[v1/]projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict`` and
``:streamRawPredict``. The body is Anthropic's Messages body with ``anthropic_version`` and no model (the URL
names it), the answers Anthropic's; the project and location are ignored: the spec's routes decide.
"""

from __future__ import annotations

from bifrostc.runtime.dialects.anthropic_messages import AnthropicMessages
from bifrostc.runtime.dialects.base import Endpoint, Inbound
from bifrostc.runtime.dialects.relay import NoRelay, RelayReader
from bifrostc.runtime.errors import InvalidRequest
from bifrostc.runtime.translate import bedrock_inbound
from bifrostc.runtime.types import ChatRequest, ChatResponse

PREFIX = "/vertex"
_MODEL_PATH = "projects/{project}/locations/{location}/publishers/anthropic/models/{model}"


def _endpoints() -> tuple[Endpoint, ...]:
    return tuple(
        Endpoint(f"{PREFIX}{version}/{_MODEL_PATH}:{method}", stream=stream)
        for version in ("/v1", "")
        for method, stream in (("rawPredict", False), ("streamRawPredict", True))
    )


class VertexAnthropic(AnthropicMessages):
    name: str = "vertex-anthropic"
    log_endpoint: str = "messages"
    endpoints: tuple[Endpoint, ...] = _endpoints()
    error_prefixes: tuple[str, ...] = (PREFIX,)

    def requested_model(self, call: Inbound) -> str:
        model = call.params.get("model", "")
        if not model:
            raise InvalidRequest("the URL names no model (publishers/anthropic/models/{model}:rawPredict)")
        return model

    def parse(self, call: Inbound) -> ChatRequest:
        # The same body as Bedrock's InvokeModel: Messages with anthropic_version, model and stream in the URL.
        return bedrock_inbound.parse_invoke(
            call.body, model=self.requested_model(call), stream=bool(call.endpoint.stream)
        )

    def passthrough(self, adapter: object, call: Inbound, model: str) -> bool:
        return False  # translated: the Anthropic API refuses Vertex's anthropic_version field

    def relabel(self, raw: bytes, model: str) -> tuple[bytes, ChatResponse | None]:
        return raw, None

    def relay_reader(self, call: Inbound) -> RelayReader:
        return NoRelay()
