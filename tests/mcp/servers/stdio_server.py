"""Fixture upstream over stdio: run as ``python stdio_server.py``."""

from __future__ import annotations

import os

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("alpha")


@server.tool()
def echo(text: str) -> str:
    """Echo the text back, tagged with this server's name."""
    return f"alpha:{text}"


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def env_value(name: str) -> str:
    """The value of an environment variable in this process (proves env vars were passed)."""
    return os.environ.get(name, "<unset>")


@server.tool()
def explode() -> str:
    """Always fails with a tool error."""
    raise ToolError("kaboom")


@server.tool()
def crash() -> str:
    """Kill this server process mid-call (the gateway must reconnect)."""
    os._exit(3)


@server.prompt()
def review(code: str) -> str:
    """Ask for a review (beta has a prompt of the same name)."""
    return f"alpha review: {code}"


@server.resource("notes://readme", name="readme", mime_type="text/plain")
def readme() -> str:
    """Same URI as beta's readme: the gateway must keep them apart."""
    return "alpha readme"


@server.resource("notes://{name}", name="note", mime_type="text/plain")
def note(name: str) -> str:
    """A resource template (beta has the same one)."""
    return f"alpha note {name}"


if __name__ == "__main__":
    server.run("stdio")
