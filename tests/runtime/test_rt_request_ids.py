"""Request ids: uuid4().hex's shape, unique within a process and across processes (forked ones included)."""

from __future__ import annotations

import os
import re

from bifrostc.runtime.context import RequestContext, new_request_id


def test_ids_are_32_hex_digits_and_unique_within_a_process() -> None:
    ids = {new_request_id() for _ in range(10_000)} | {RequestContext("openai", "chat").request_id}
    assert len(ids) == 10_001
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its next id and leave at once
        os.write(write_end, new_request_id().encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child_id = pipe.read().decode()
    os.waitpid(pid, 0)
    parent_id = new_request_id()
    assert len(child_id) == 32
    assert child_id[:16] != parent_id[:16]
