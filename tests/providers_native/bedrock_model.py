"""Validate request bodies against botocore's own bedrock-runtime service model."""

from __future__ import annotations

import base64
from typing import Any

from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.validate import ParamValidator

_SERVICE = ServiceModel(Loader().load_service_model("bedrock-runtime", "service-2"))
_BLOB_KEYS = {"bytes", "redactedContent"}


def validation_errors(operation: str, model_id: str, body: dict[str, Any]) -> str:
    """The report botocore's ParamValidator produces ('' when valid). Blobs travel base64 in JSON."""
    params = {"modelId": model_id, **_decode_blobs(body)}
    report = ParamValidator().validate(params, _SERVICE.operation_model(operation).input_shape)
    return report.generate_report()


def _decode_blobs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: base64.b64decode(value) if key in _BLOB_KEYS and isinstance(value, str) else _decode_blobs(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_decode_blobs(item) for item in node]
    return node
