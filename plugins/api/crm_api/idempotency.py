"""``Idempotency-Key``: a retried creating request gets the first answer instead of making a second record.

The first request with a key claims it (a row with no status yet) before its
handler runs; its answer is stored when it succeeds, and the claim is
dropped when it fails, so that a corrected retry can run. A retry with the
same key and the same method, path and body gets the stored answer (marked
``Idempotent-Replayed: true``); with anything else it is refused (422); while
the first is still running it is told to wait (409). Keys are per API token
and kept for ``[plugins.api] idempotency_hours``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import peewee
from flask import Response, request

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["MAX_KEY", "run"]

MAX_KEY = 255
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
#: the response headers replayed with a stored answer
_KEPT_HEADERS = ("Location", "ETag", "Content-Type")


def run(crm: CRM, *, token_id: int, key: str, hours: int, answer: Callable[[], Response]) -> Response:
    from crm_api.models import IdempotentRequest
    from crm_api.web import ApiProblem

    if not _KEY.fullmatch(key):
        raise ApiProblem(
            400,
            "invalid_idempotency_key",
            f"Idempotency-Key must be 1 to {MAX_KEY} printable ASCII characters without spaces (a UUID, an order number)",
        )
    body_hash = hashlib.sha256(request.get_data(cache=True)).hexdigest()
    now = crm.clock.now()
    where = (IdempotentRequest.token_id == token_id) & (IdempotentRequest.key == key)
    with crm.transaction():
        IdempotentRequest.delete().where(
            where & (IdempotentRequest.created_at < now - dt.timedelta(hours=hours))
        ).execute()
        try:
            with crm.database.atomic():
                claim = IdempotentRequest.create(
                    token_id=token_id,
                    key=key,
                    method=request.method,
                    path=request.path[:500],
                    body_hash=body_hash,
                    created_at=now,
                )
        except peewee.IntegrityError:
            claim = None
    if claim is None:
        earlier = IdempotentRequest.get_or_none(where)
        if earlier is None:  # its request failed and dropped the claim in between: this one may run
            return run(crm, token_id=token_id, key=key, hours=hours, answer=answer)
        if (earlier.method, earlier.path, earlier.body_hash) != (request.method, request.path[:500], body_hash):
            raise ApiProblem(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used for another request (a different path or body); "
                "use a new key for a new change",
            )
        if earlier.status is None:
            raise ApiProblem(
                409,
                "idempotency_in_progress",
                "the first request with this Idempotency-Key is still running; retry in a moment",
            )
        replay = Response(earlier.response, status=earlier.status)
        replay.headers.update(json.loads(earlier.headers))
        replay.headers["Idempotent-Replayed"] = "true"
        return replay
    try:
        response = answer()
    except BaseException:
        with crm.transaction():
            IdempotentRequest.delete().where(IdempotentRequest.id == claim.id).execute()
        raise
    if response.status_code >= 400:
        with crm.transaction():
            IdempotentRequest.delete().where(IdempotentRequest.id == claim.id).execute()
        return response
    headers = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
    with crm.transaction():
        IdempotentRequest.update(
            status=response.status_code, headers=json.dumps(headers), response=response.get_data(as_text=True)
        ).where(IdempotentRequest.id == claim.id).execute()
    return response
