"""The organisers' POST /talks and PUT /talks/{talkId}: their bodies checked by the pydantic models
of talkrate.models, imported with this module at the first such request (talkrate.api.talks
declares the routes); each talk saved is announced on the live channel."""

from __future__ import annotations

import json
from typing import Annotated

from talkrate import wiring
from talkrate.adapters.idempotency import KEY_TTL_SECONDS
from talkrate.api.announce import announce_change
from talkrate.api.idempotency import idempotency_header
from talkrate.api.routing import Body, Response
from talkrate.api.talks import IfMatch, IfNoneMatch, TalkIdPath, precondition, talk_document
from talkrate.catalog import add_talk, add_talk_once, replace_talk
from talkrate.models import NewTalk, TalkFields
from talkrate.values import KeptAnswer, Talk

TalkKey = Annotated[
    str | None,
    idempotency_header(
        "Makes a retried POST add the talk once: sent again with the same key and the same talk "
        "(its answer lost on the way), within an hour, it is given the first answer (its "
        "status, headers and body) and adds nothing more; the same key with another talk is "
        "refused (422 idempotency-key-reused) while the key is kept. The key is kept with the "
        "talk, in the catalog's database; a request refused (409 talk-exists, 422) keeps "
        "nothing. After the hour the key is forgotten: the talk sent again is 409 talk-exists."
    ),
]


def post_talk(talk: Annotated[NewTalk, Body()], idempotency_key: TalkKey = None) -> Response:
    """Add a talk under a new id (409 when it is taken); with an Idempotency-Key, once."""
    catalog, ratings = wiring.talk_catalog(), wiring.read_model()
    added: Talk | None
    if idempotency_key is None:
        added = add_talk(catalog, ratings, talk)
        given = _added(added)
    else:
        # Keys of the organisers' POST /talks are kept apart from any other route's.
        scoped = f"talks:{idempotency_key}"
        given, added = add_talk_once(catalog, ratings, talk, scoped, _added, KEY_TTL_SECONDS)
    if added is not None:  # (a repeat adds nothing, and tells nobody again)
        announce_change(added.id, json.loads(given.body))  # the programme shows it at once
    return Response(given.status, "application/json", given.body, headers=dict(given.headers))


def _added(talk: Talk) -> KeptAnswer:
    """The 201 of a talk added."""
    return KeptAnswer(
        201,
        {"Location": f"/talks/{talk.id}", "ETag": talk.etag},
        json.dumps(talk_document(talk)),
    )


def put_talk(
    talk_id: TalkIdPath,
    fields: Annotated[TalkFields, Body()],
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Create or replace the talk under this id (201 when created); with If-Match or
    If-None-Match only when they hold (412 otherwise)."""
    created, talk = replace_talk(
        wiring.talk_catalog(),
        wiring.read_model(),
        talk_id,
        fields,
        precondition(if_match, if_none_match),
    )
    document = talk_document(talk)
    announce_change(talk_id, document)  # its open pages redraw it at once
    return Response(
        201 if created else 200,
        "application/json",
        json.dumps(document),
        headers={"Location": f"/talks/{talk_id}", "ETag": talk.etag},
    )
