"""GET and DELETE /v1/responses/{response_id} (and /openai/v1/...): the stored responses of the caller's key.

OpenAI's shapes: GET answers the response object as it was returned; DELETE answers
`{"id", "object": "response", "deleted": true}`; an id this key has not stored (unknown, expired, deleted,
another key's) is a 404 `invalid_request_error` "Response with id '...' not found.".
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bifrostc.runtime.context import RequestContext
from bifrostc.runtime.errors import GatewayError
from bifrostc.runtime.handlers.errors import error_response
from bifrostc.runtime.responses_store import ResponseStore
from bifrostc.runtime.responses_store.turn import not_found, owner_of
from bifrostc.runtime.transport import credentials

PATHS = ("/v1/responses/{response_id}", "/openai/v1/responses/{response_id}")


async def stored_response(request: Request) -> Response:
    rt = request.app.state.runtime
    ctx = RequestContext(dialect="responses", endpoint="responses", headers=request.headers)
    resp_id = request.path_params["response_id"]
    try:
        ctx.credential = credentials.of_request(rt.credential_salt, request.headers, "responses")
        ctx.key = await rt.hooks.authenticate(request.headers, ctx)
        owner = owner_of(ctx)
        store: ResponseStore | None = getattr(request.app.state, "responses_store", None)
        if store is None:
            raise not_found(resp_id)
        if request.method == "DELETE":
            if not await store.delete(owner, resp_id):
                raise not_found(resp_id)
            return JSONResponse({"id": resp_id, "object": "response", "deleted": True})
        stored = await store.get(owner, resp_id)
        if stored is None:
            raise not_found(resp_id)
        return JSONResponse(stored.response)
    except GatewayError as exc:
        return error_response("responses", exc, ctx.response_headers())
