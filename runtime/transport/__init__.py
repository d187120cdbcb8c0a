"""The one upstream transport every adapter uses (see docs/CONTRACTS.md, "Upstream transport").

- `bifrostc.runtime.http`: the pooled client and its fast path (`post_upstream`), over `h1`, the HTTP/1.1 client
  (keep-alive pools, httptools parsing, proxies, TLS, read timeout, flow control).
- `errors`: the one error mapper (status, retry-after, x-should-retry, Anthropic envelopes kept, connect/timeout
  wording); `wording`: another family's 400/413 in the words Claude Code's recovery matches.
- `readers`: the one SSE reader and the one AWS event-stream reader.
- `relay`: the first-event rule for canonical streams.
- `passthrough`: reading and checking upstream bodies relayed unchanged to a same-dialect client.
"""
