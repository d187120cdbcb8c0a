"""The one upstream transport every adapter uses (see docs/CONTRACTS.md, "Upstream transport").

- `bifrostc.runtime.http`: the pooled client and its fast path (`post_upstream`, aiohttp-native).
- `errors`: the one error mapper (status, retry-after, context-overflow wording, connect/timeout wording).
- `readers`: the one SSE reader and the one AWS event-stream reader.
- `relay`: the first-event rule for canonical streams.
- `passthrough`: reading and checking upstream bodies relayed unchanged to a same-dialect client.
"""
