"""The organisers' POST /talks and PUT /talks/{talkId}: their bodies checked by the pydantic models
of talkrate.models, imported with this module at the first such request (talkrate.api.talks
declares the routes); each talk saved is announced on the live channel."""

from __future__ import annotations

import json
from typing import Annotated

from talkrate import wiring
from talkrate.api.announce import announce_change
from talkrate.api.routing import Body, Response
from talkrate.api.talks import IfMatch, IfNoneMatch, TalkIdPath, precondition, talk_document
from talkrate.catalog import add_talk, replace_talk
from talkrate.models import NewTalk, TalkFields


def post_talk(talk: Annotated[NewTalk, Body()]) -> Response:
    """Add a talk under a new id (409 when it is taken)."""
    created = add_talk(wiring.talk_catalog(), wiring.read_model(), talk)
    document = talk_document(created)
    announce_change(created.id, document)  # the programme shows it at once
    return Response(
        201,
        "application/json",
        json.dumps(document),
        headers={"Location": f"/talks/{created.id}", "ETag": created.etag},
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
