"""Claude Code's gateway protocol under /claude-code: /login device sign-in, inference on the minted bearer,
managed settings per team, and OTLP telemetry. The contract is the protocol document Claude Code's own
gateway serves at GET /protocol; ``routes.service_for`` and ``routes.claude_code_routes`` are what the app
assembly adds.
"""
