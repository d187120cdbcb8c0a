"""schema/gateway.schema.json is generated from the pydantic models; it must not drift, and it must be usable."""

from __future__ import annotations

import json
import pathlib

import jsonschema
import yaml

from bifrostc.compiler.schema_gen import SCHEMA_PATH, gateway_schema

EXAMPLES = sorted((pathlib.Path(__file__).resolve().parents[2] / "examples").glob("*/gateway.yaml"))


def test_committed_schema_matches_the_models() -> None:
    assert SCHEMA_PATH.read_text() == gateway_schema(), "schema drift: run `make schema`"


def test_every_example_is_valid_against_the_json_schema() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(gateway_schema()))
    assert EXAMPLES
    for example in EXAMPLES:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(example.read_text()))]
        assert errors == [], example


def test_the_schema_rejects_unknown_keys_for_editors() -> None:
    validator = jsonschema.Draft202012Validator(json.loads(gateway_schema()))
    assert not validator.is_valid({"version": 1, "modles": {}})
    assert not validator.is_valid({"providers": {"x": {"type": "not-a-type"}}})
