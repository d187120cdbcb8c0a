"""Stored Responses through the wired gateway with the official openai SDK: previous_response_id chains,
item_reference, responses.retrieve / delete, scoping to the key that stored them, store: false, TTL and size
bounds. The route goes to a fake Anthropic upstream (`weather_upstream`): what it was sent shows the gateway
rebuilt each turn's whole conversation from what it stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.integration.weather_upstream import ENV, WeatherUpstream, spec
from tests.integration.wired import compile_gateway, wired_server

WEATHER_TOOL: list[Any] = [
    {
        "type": "function",
        "name": "weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": False,
    }
]
NOT_FOUND = {"type": "invalid_request_error", "param": None, "code": None}


def _roles(body: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(role, block types) of each message the upstream was sent."""
    out = []
    for m in body["messages"]:
        content = m["content"]
        out.append((m["role"], ["text"] if isinstance(content, str) else [b["type"] for b in content]))
    return out


@pytest.fixture
def gateway_for(tmp_path: Path) -> Any:
    def build(**server: Any) -> Any:
        return compile_gateway(tmp_path, spec(str(tmp_path / "gw.db"), **server), ENV)

    return build


async def test_previous_response_id_chains_a_tool_loop_and_a_second_turn(gateway_for: Any) -> None:
    upstream = WeatherUpstream()
    async with wired_server(gateway_for(), ENV, transport=upstream.transport()) as gw:
        client = gw.openai(ENV["ALICE_KEY"])
        first = await client.responses.create(model="gpt-4o", input="What is the weather in Paris?", tools=WEATHER_TOOL)
        assert first.store is True and first.id.startswith("resp_")
        call = first.output[0]
        assert call.type == "function_call" and json.loads(call.arguments) == {"city": "Paris"}
        # The tool result alone, on the stored chain (streamed: a stream's response is stored too).
        output = {
            "type": "function_call_output",
            "call_id": call.call_id,
            "output": '{"city": "Paris", "forecast": "sunny"}',
        }
        async with client.responses.stream(
            model="gpt-4o", input=[output], tools=WEATHER_TOOL, previous_response_id=first.id
        ) as stream:
            second = await stream.get_final_response()
        assert second.output_text == "It is sunny in Paris."
        assert second.previous_response_id == first.id
        assert _roles(upstream.bodies[1]) == [
            ("user", ["text"]),
            ("assistant", ["tool_use"]),
            ("user", ["tool_result"]),
        ]
        third = await client.responses.create(
            model="gpt-4o", input="What did I ask first?", previous_response_id=second.id
        )
        assert (
            third.output_text == "You first asked: What is the weather in Paris? | I last said: It is sunny in Paris."
        )
        assert [role for role, _ in _roles(upstream.bodies[2])] == ["user", "assistant", "user", "assistant", "user"]


async def test_item_reference_is_the_stored_item(gateway_for: Any) -> None:
    upstream = WeatherUpstream()
    async with wired_server(gateway_for(), ENV, transport=upstream.transport()) as gw:
        client = gw.openai(ENV["ALICE_KEY"])
        first = await client.responses.create(model="gpt-4o", input="Hello there")
        message_id = first.output[0].id
        second = await client.responses.create(
            model="gpt-4o",
            input=[
                {"role": "user", "content": "Hello there"},
                {"type": "item_reference", "id": message_id},
                {"role": "user", "content": "Again?"},
            ],
        )
        assert second.output_text == f"You first asked: Hello there | I last said: {first.output_text}"
        with pytest.raises(openai.NotFoundError) as info:
            await client.responses.create(model="gpt-4o", input=[{"type": "item_reference", "id": "msg_nope"}])
        assert info.value.body["param"] == "input" and info.value.body["type"] == "invalid_request_error"
        assert info.value.body["message"].startswith("Item with id 'msg_nope' not found.")
        assert len(upstream.bodies) == 2


async def test_retrieve_and_delete_answer_openais_shapes(gateway_for: Any) -> None:
    upstream = WeatherUpstream()
    async with wired_server(gateway_for(), ENV, transport=upstream.transport()) as gw:
        client = gw.openai(ENV["ALICE_KEY"])
        created = await client.responses.create(model="gpt-4o", input="Keep this")
        fetched = await client.responses.retrieve(created.id)
        assert fetched.model_dump() == created.model_dump()
        via_openai_prefix = await gw.http.get(
            f"{gw.url}/openai/v1/responses/{created.id}", headers={"authorization": f"Bearer {ENV['ALICE_KEY']}"}
        )
        assert via_openai_prefix.json()["id"] == created.id
        deleted = await gw.http.delete(
            f"{gw.url}/v1/responses/{created.id}", headers={"authorization": f"Bearer {ENV['ALICE_KEY']}"}
        )
        assert deleted.status_code == 200
        assert deleted.json() == {"id": created.id, "object": "response", "deleted": True}
        with pytest.raises(openai.NotFoundError) as info:
            await client.responses.retrieve(created.id)
        assert info.value.body == {"message": f"Response with id '{created.id}' not found.", **NOT_FOUND}
        with pytest.raises(openai.NotFoundError):
            await client.responses.delete(created.id)
        with pytest.raises(openai.BadRequestError) as bad:
            await client.responses.create(model="gpt-4o", input="more", previous_response_id=created.id)
        assert bad.value.body["code"] == "previous_response_not_found"


async def test_another_key_gets_404_for_every_stored_thing(gateway_for: Any) -> None:
    upstream = WeatherUpstream()
    async with wired_server(gateway_for(), ENV, transport=upstream.transport()) as gw:
        alice, bob = gw.openai(ENV["ALICE_KEY"]), gw.openai(ENV["BOB_KEY"])
        mine = await alice.responses.create(model="gpt-4o", input="Secret plans")
        with pytest.raises(openai.NotFoundError):
            await bob.responses.retrieve(mine.id)
        with pytest.raises(openai.NotFoundError):
            await bob.responses.delete(mine.id)
        with pytest.raises(openai.BadRequestError) as chained:
            await bob.responses.create(model="gpt-4o", input="and?", previous_response_id=mine.id)
        assert chained.value.body["param"] == "previous_response_id"
        with pytest.raises(openai.NotFoundError):
            await bob.responses.create(model="gpt-4o", input=[{"type": "item_reference", "id": mine.output[0].id}])
        assert (await alice.responses.retrieve(mine.id)).id == mine.id  # bob's delete did nothing
        anonymous = await gw.http.get(f"{gw.url}/v1/responses/{mine.id}")
        assert anonymous.status_code == 401


async def test_store_false_keeps_nothing(gateway_for: Any) -> None:
    upstream = WeatherUpstream()
    async with wired_server(gateway_for(), ENV, transport=upstream.transport()) as gw:
        client = gw.openai(ENV["ALICE_KEY"])
        unstored = await client.responses.create(model="gpt-4o", input="Forget me", store=False)
        assert unstored.store is False
        with pytest.raises(openai.NotFoundError):
            await client.responses.retrieve(unstored.id)
        with pytest.raises(openai.NotFoundError):  # its items were not kept either
            await client.responses.create(
                model="gpt-4o", input=[{"type": "item_reference", "id": unstored.output[0].id}]
            )


async def test_a_stored_response_expires_after_ttl_seconds(gateway_for: Any) -> None:
    upstream = WeatherUpstream()
    async with wired_server(
        gateway_for(responses_store={"ttl_seconds": 60}), ENV, transport=upstream.transport()
    ) as gw:
        client = gw.openai(ENV["ALICE_KEY"])
        created = await client.responses.create(model="gpt-4o", input="Short-lived")
        assert (await client.responses.retrieve(created.id)).id == created.id
        store = gw.app.state.responses_store
        real = store.clock
        store.clock = lambda: real() + 61  # the store's wall clock, 61 s on
        with pytest.raises(openai.NotFoundError):
            await client.responses.retrieve(created.id)
        with pytest.raises(openai.BadRequestError):
            await client.responses.create(model="gpt-4o", input="more", previous_response_id=created.id)


async def test_max_bytes_drops_the_oldest_first(gateway_for: Any) -> None:
    upstream = WeatherUpstream()
    async with wired_server(
        gateway_for(responses_store={"max_bytes": 8192}), ENV, transport=upstream.transport()
    ) as gw:
        client = gw.openai(ENV["ALICE_KEY"])
        ids = [(await client.responses.create(model="gpt-4o", input=f"turn {i} " + "x" * 600)).id for i in range(12)]
        kept = []
        for resp_id in ids:
            try:
                kept.append((await client.responses.retrieve(resp_id)).id)
            except openai.NotFoundError:
                kept.append(None)
        assert kept[-1] == ids[-1] and kept[0] is None
        first_kept = next(i for i, k in enumerate(kept) if k)
        assert all(k is None for k in kept[:first_kept]) and all(kept[first_kept:])  # oldest out, newest in


async def test_off_refuses_stored_state(gateway_for: Any) -> None:
    upstream = WeatherUpstream()
    async with wired_server(gateway_for(responses_store={"enabled": False}), ENV, transport=upstream.transport()) as gw:
        client = gw.openai(ENV["ALICE_KEY"])
        with pytest.raises(openai.BadRequestError) as info:
            await client.responses.create(model="gpt-4o", input="x", previous_response_id="resp_1")
        assert "server.responses_store is off" in info.value.message
        created = await client.responses.create(model="gpt-4o", input="plain")
        response = await gw.http.get(
            f"{gw.url}/v1/responses/{created.id}", headers={"authorization": f"Bearer {ENV['ALICE_KEY']}"}
        )
        assert response.status_code == 404
        assert isinstance(response, httpx.Response)


async def test_a_turn_stored_while_another_process_holds_the_file_waits_without_blocking_the_loop(
    gateway_for: Any, tmp_path: Path
) -> None:
    """The store writes on the event loop when the file is free; a file another process holds (its write lock)
    sends the write to the database's thread, which waits: the loop keeps serving, the turn is kept afterwards."""
    import asyncio
    import sqlite3

    upstream = WeatherUpstream()
    async with wired_server(gateway_for(), ENV, transport=upstream.transport()) as gw:
        client = gw.openai(ENV["ALICE_KEY"])
        await client.responses.create(model="gpt-4o", input="Open the store")  # the file exists
        other = sqlite3.connect(tmp_path / "gw.responses.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            turn = asyncio.ensure_future(client.responses.create(model="gpt-4o", input="Kept after the wait"))
            for _ in range(3):  # the gateway answers meanwhile, and the turn waits for the file
                assert (await gw.http.get(f"{gw.url}/health")).status_code == 200
                await asyncio.sleep(0.05)
            assert not turn.done()
        finally:
            other.execute("ROLLBACK")
            other.close()
        kept = await turn
        assert (await client.responses.retrieve(kept.id)).output_text == kept.output_text
