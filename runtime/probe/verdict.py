"""Judging a probed target: ready, ready with caveats, or not ready, each with its reasons and a hint. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import orjson

from bifrostc.runtime.probe.observe import Observation
from bifrostc.runtime.probe.script import READ_PATHS, WRITE_ARGS

Status = Literal["ready", "caveats", "not_ready"]
_RANK: dict[Status, int] = {"ready": 0, "caveats": 1, "not_ready": 2}


@dataclass
class Steps:
    """What one target did in each step of the script (None: the step was not reached)."""

    tool: Observation
    answer: Observation | None = None
    parallel: Observation | None = None
    count_method: str = "estimate"  # provider | estimate | error
    count_error: str | None = None
    reasoning: str = ""  # how the script asked for reasoning: "thinking" (visible, signed), "effort" (hidden), ""
    priced: bool = True

    @property
    def thinking(self) -> bool:
        return bool(self.reasoning)


@dataclass
class Verdict:
    status: Status = "ready"
    reasons: list[str] = field(default_factory=list)  # why it is not ready
    caveats: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def fail(self, reason: str, hint: str | None = None) -> None:
        self.status = "not_ready"
        self.reasons.append(reason)
        if hint:
            self.hints.append(hint)

    def warn(self, caveat: str, hint: str | None = None) -> None:
        if self.status == "ready":
            self.status = "caveats"
        self.caveats.append(caveat)
        if hint:
            self.hints.append(hint)


def worst(statuses: list[Status]) -> Status:
    return max(statuses, key=_RANK.__getitem__, default="ready")


def judge(steps: Steps) -> Verdict:
    verdict = Verdict()
    _judge_tool_turn(steps, verdict)
    if verdict.status != "not_ready":
        _judge_answer_turn(steps, verdict)
        _judge_parallel_turn(steps, verdict)
    if steps.count_method == "error":
        verdict.warn(f"count_tokens failed: {steps.count_error}")
    if not steps.priced:
        verdict.warn("no price for this model: budgets will not count its spend", "add it under `pricing:`")
    return verdict


def _error_hint(status: int | None, message: str) -> str | None:
    if status in (401, 403):
        return "check the provider's key (the env var the spec names) and what it may use"
    if status == 404:
        return "check the model id and the provider's base_url"
    if status == 400 and "tool" in message.lower():
        return "this model refuses tool definitions: set `supports_tools: false` and keep it off Claude Code's tiers"
    return None


def _judge_tool_turn(steps: Steps, verdict: Verdict) -> None:
    tool = steps.tool
    if tool.error is not None:
        verdict.fail(f"turn 1 failed: HTTP {tool.status}: {tool.error}", _error_hint(tool.status, tool.error))
        return
    calls = [call for call in tool.tool_calls if call.name == "write_file"]
    if not calls:
        verdict.fail(
            "turn 1 did not call write_file: Claude Code could not edit a file through this model",
            "route Claude Code's tiers to a model with tool calling, or set `supports_tools: false`",
        )
        return
    try:
        arguments = orjson.loads(calls[0].arguments or "{}")
    except orjson.JSONDecodeError:
        arguments = calls[0].arguments
    if arguments != WRITE_ARGS:
        verdict.fail(f"turn 1 called write_file with {arguments!r}, not {WRITE_ARGS!r}")
        return
    if all(tool.argument_deltas.get(call.id, 0) <= 1 for call in calls):
        verdict.warn(
            "tool arguments arrive in one piece at the end, not streamed: long edits show no progress",
            "the provider's native endpoint (its own type rather than an OpenAI-compatible one) may stream them",
        )
    if tool.stop_reason != "tool_use":
        verdict.warn(f"stop reason {tool.stop_reason!r} on a tool turn (Claude Code expects 'tool_use')")
    if tool.usage.input_tokens == 0 and tool.usage.output_tokens == 0:
        verdict.warn("no usage reported: request logs and budgets fall back to estimates")
    if steps.reasoning == "thinking" and not tool.thinking:
        verdict.warn("thinking was asked for and none came back")


def _judge_answer_turn(steps: Steps, verdict: Verdict) -> None:
    answer = steps.answer
    if answer is None:
        return
    if answer.error is not None:
        if steps.thinking:
            verdict.fail(
                f"turn 2 refused turn 1's reasoning: HTTP {answer.status}: {answer.error}",
                "turn thinking off for this route, or use the provider's native endpoint",
            )
        else:
            verdict.fail(f"turn 2 (the tool result) failed: HTTP {answer.status}: {answer.error}")
        return
    text = "".join(getattr(part, "text", "") for part in (answer.response.content if answer.response else []))
    if not text.strip():
        verdict.warn("no text answer after the tool result")
    if answer.stop_reason not in ("end_turn", "stop_sequence"):
        verdict.warn(f"stop reason {answer.stop_reason!r} on the final answer (Claude Code expects 'end_turn')")


def _judge_parallel_turn(steps: Steps, verdict: Verdict) -> None:
    parallel = steps.parallel
    if parallel is None:
        return
    if parallel.error is not None:
        verdict.fail(f"the parallel-tool turn failed: HTTP {parallel.status}: {parallel.error}")
        return
    paths = set()
    for call in parallel.tool_calls:
        try:
            paths.add(orjson.loads(call.arguments or "{}").get("path"))
        except (orjson.JSONDecodeError, AttributeError):
            continue
    if not set(READ_PATHS) <= paths:
        verdict.warn(f"{len(parallel.tool_calls)} tool call(s) where two parallel calls were asked for: slower agent")
