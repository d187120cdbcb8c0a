"""What the built-in ``mock`` provider says: a tiny, deterministic assistant for the offline quickstart.

A plain request (no system prompt, no tools: curl, an SDK call, most tests) gets its last user text back, so the
gateway's plumbing is easy to see; ``call tool NAME with {json}`` yields a tool call and a tool result is quoted
back ("Tool result received: ..."). An agent's request (Claude Code, Codex: a system prompt or tools) gets the
assistant. It reads the last user turn the way a model would see it, without the ``<system-reminder>`` blocks
Claude Code adds, and answers a greeting, a question about itself, or one of two tool demonstrations: "list the files"
(a ``Bash`` ``ls``, else ``Glob``/``LS``, whichever tool the request offers) and "create a file NAME with TEXT"
(``Write``, else ``Bash``). The turn after carries the tool's result, and the answer is made from it. An explicit
``call tool NAME with {json}`` calls any offered tool (the tests drive agent loops with it). Anything else gets a
short reply that says it is a mock and what it can do.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

import orjson

from bifrostc.runtime.types import ChatRequest, Part, TextPart, ToolCallPart, ToolResultPart

TOOL_PHRASE = re.compile(r"call (?:the )?tool\s+([A-Za-z0-9_.:-]+)(?:\s+with\s+(\{.*\}))?", re.IGNORECASE | re.DOTALL)
REMINDER = re.compile(r"<system-reminder>.*?(?:</system-reminder>|\Z)", re.DOTALL)
WORKDIR = re.compile(r"(?:Primary working directory|Working directory):\s*(\S+)")
GREETING = re.compile(
    r"^\W*(?:(?:please\s+)?say\s+)?(?:hi|hello|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening))\b", re.I
)
ABOUT = re.compile(
    r"\b(?:who|what) are you\b|\babout yourself\b|\bsummari[sz]e\b|\bwhat can you do\b|^\W*help\W*$", re.I
)
LIST_FILES = re.compile(r"\b(?:list|show|which|what)\b.*\bfiles?\b|^\W*ls\W*$|\bwhat(?:'s| is) (?:in )?here\b", re.I)
CREATE_FILE = re.compile(r"\b(?:create|make|write|add)\b.*\bfile\b", re.I)
FILE_NAME = re.compile(
    r"\bfile\s+(?:named\s+|called\s+)?[`'\"]?([\w][\w./-]*\.\w+)|[`'\"]?([\w][\w-]*\.\w{1,8})\b", re.I
)
FILE_TEXT = re.compile(
    r"\b(?:with|containing|saying|that says)\s+(?:the\s+)?(?:text|content|contents|words?)?\s*:?\s*(.+)$",
    re.I | re.S,
)

ABOUT_TEXT = (
    "I'm the bifrostc mock provider: a stand-in model that answers offline, with no API key and no network, so you "
    "can try the gateway end to end. Your client talks to the bifrostc gateway, which routes each request by its "
    "model name to a provider; in this quickstart every route goes to me. I can greet you, show one tool call "
    '(ask me to "list the files" or to "create a file notes.txt with hello") and answer from the tool\'s result. '
    "Replace the mock with a real provider in gateway.yaml, rebuild, and the same client works unchanged."
)
HINT = 'Ask me to "list the files" or to "create a file notes.txt with hello" to see a tool call.'


@dataclass(frozen=True, slots=True)
class Reply:
    """The assistant turn: text, or one tool call."""

    text: str = ""
    call: tuple[str, str] | None = None  # (tool name, JSON arguments)


def visible_text(parts: list[Part]) -> str:
    """The user's own words: text parts without Claude Code's hidden <system-reminder> blocks."""
    text = "".join(p.text for p in parts if isinstance(p, TextPart))
    return REMINDER.sub("", text).strip()


def reply(request: ChatRequest) -> Reply:
    last = next((m for m in reversed(request.messages) if m.role == "user"), None)
    parts = last.content if last is not None else []
    results = [p for p in parts if isinstance(p, ToolResultPart)]
    agent = bool(request.tools or request.system)
    if results:
        return Reply(text=_from_results(request, results) if agent else _quoted(results))
    text = visible_text(parts)
    offered = {tool.name for tool in request.tools}
    explicit = TOOL_PHRASE.search(text)
    if explicit and (not request.tools or explicit.group(1) in offered):
        return Reply(call=(explicit.group(1), explicit.group(2) or "{}"))
    if not agent:
        return Reply(text=text or "Hello from the bifrostc mock provider.")
    if GREETING.search(text) and len(text) < 60:
        return Reply(text=f"Hi! I'm the bifrostc mock model, answering offline through your gateway. {HINT}")
    if ABOUT.search(text):
        return Reply(text=ABOUT_TEXT)
    if CREATE_FILE.search(text):
        return _create_file(request, text, offered)
    if LIST_FILES.search(text):
        return _list_files(request, offered)
    if not text:
        return Reply(text=f"Hello from the bifrostc mock provider. {HINT}")
    return Reply(
        text=f'I\'m the offline bifrostc mock, not a real model, so I can only repeat what you said: "{text}". {HINT}'
    )


def _workdir(request: ChatRequest) -> str | None:
    texts = [p.text for p in request.system] + [
        p.text for m in request.messages if m.role == "user" for p in m.content if isinstance(p, TextPart)
    ]
    for text in texts:
        found = WORKDIR.search(text)
        if found:
            return found.group(1)
    return None


def _args(**values: object) -> str:
    return orjson.dumps(values).decode()


def _list_files(request: ChatRequest, offered: set[str]) -> Reply:
    if "Bash" in offered:
        return Reply(call=("Bash", _args(command="ls -la", description="List the files in the working directory")))
    if "Glob" in offered:
        return Reply(call=("Glob", _args(pattern="*")))
    workdir = _workdir(request)
    if "LS" in offered and workdir:
        return Reply(call=("LS", _args(path=workdir)))
    return Reply(text="I would list the files with a tool, but this request offers none I can use (Bash, Glob, LS).")


def _create_file(request: ChatRequest, text: str, offered: set[str]) -> Reply:
    named = FILE_NAME.search(text)
    name = next((g for g in named.groups() if g), "hello.txt") if named else "hello.txt"
    said = FILE_TEXT.search(text[named.end() :] if named else text)
    content = said.group(1).strip().strip("`'\"").rstrip(".") if said else "Hello from bifrostc!"
    workdir = _workdir(request)
    if "Write" in offered and workdir and not name.startswith("/"):
        return Reply(call=("Write", _args(file_path=f"{workdir.rstrip('/')}/{name}", content=content + "\n")))
    if "Bash" in offered:
        command = f"printf '%s\\n' {shlex.quote(content)} > {shlex.quote(name)}"
        return Reply(call=("Bash", _args(command=command, description=f"Create {name}")))
    return Reply(text=f"I would create {name} with a tool, but this request offers none I can use (Write, Bash).")


def _quoted(results: list[ToolResultPart]) -> str:
    return "Tool result received: " + " | ".join(
        "".join(p.text for p in r.content if isinstance(p, TextPart)) for r in results
    )


def _calls_by_id(request: ChatRequest) -> dict[str, ToolCallPart]:
    return {p.id: p for m in request.messages for p in m.content if isinstance(p, ToolCallPart)}


def _from_results(request: ChatRequest, results: list[ToolResultPart]) -> str:
    calls = _calls_by_id(request)
    answers = []
    for result in results:
        output = REMINDER.sub("", "".join(p.text for p in result.content if isinstance(p, TextPart))).strip()
        call = calls.get(result.tool_call_id)
        name = call.name if call is not None else "tool"
        arguments = orjson.loads(call.arguments) if call is not None and call.arguments.strip() else {}
        if result.is_error:
            answers.append(f"The {name} tool failed: {output or '(no output)'}")
        elif name == "Write" or (name == "Bash" and " > " in str(arguments.get("command", ""))):
            target = arguments.get("file_path") or str(arguments.get("command", "")).rsplit(" > ", 1)[-1]
            answers.append(f"Done: I created {target}.")
        elif name in {"Bash", "Glob", "LS"} and "ls" in str(arguments.get("command", "ls")):
            lines = [line for line in output.splitlines() if line.strip()]
            shown = "\n".join(lines[:40]) + ("\n..." if len(lines) > 40 else "")
            answers.append(f"Here are the files ({name} ran it):\n{shown}" if lines else "The directory is empty.")
        else:
            answers.append(f"Tool result received: {output}")
    return "\n\n".join(answers)
