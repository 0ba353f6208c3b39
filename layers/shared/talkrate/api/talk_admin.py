"""The organisers' POST /talks and PUT /talks/{talkId}: their bodies checked by the pydantic models
of talkrate.models, imported with this module at the first such request (talkrate.api.talks
declares the routes)."""

from __future__ import annotations

import json
from typing import Annotated

from talkrate import wiring
from talkrate.api.routing import Body, Response
from talkrate.api.talks import TalkIdPath, talk_document
from talkrate.catalog import add_talk, replace_talk
from talkrate.models import NewTalk, TalkFields


def post_talk(talk: Annotated[NewTalk, Body()]) -> Response:
    """Add a talk under a new id (409 when it is taken)."""
    created = add_talk(wiring.talk_catalog(), wiring.read_model(), talk)
    return Response(
        201,
        "application/json",
        json.dumps(talk_document(created)),
        headers={"Location": f"/talks/{created.id}"},
    )


def put_talk(talk_id: TalkIdPath, fields: Annotated[TalkFields, Body()]) -> Response:
    """Create or replace the talk under this id (201 when created)."""
    created = replace_talk(wiring.talk_catalog(), wiring.read_model(), talk_id, fields)
    return Response(
        201 if created else 200,
        "application/json",
        json.dumps(talk_document(fields.talk(talk_id))),
        headers={"Location": f"/talks/{talk_id}"},
    )
