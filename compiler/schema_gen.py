"""gateway.schema.json, generated from the pydantic spec models so the two cannot drift apart."""

from __future__ import annotations

import json
import pathlib

from bifrostc.compiler.spec import GatewaySpec

SCHEMA_PATH = pathlib.Path(__file__).resolve().parent.parent / "schema" / "gateway.schema.json"


def gateway_schema() -> str:
    schema = GatewaySpec.model_json_schema()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "bifrostc-gateway.schema.json",
        **schema,
    }
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
