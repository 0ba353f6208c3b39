"""Function URLs: a function's FunctionUrlConfig."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sam_emulator.template.intrinsics import as_text
from sam_emulator.template.reader import Reader, SourceParser


@dataclass(frozen=True)
class FunctionUrl:
    """A function's URL (FunctionUrlConfig): its own endpoint, payload format 2.0."""

    function_id: str
    auth_type: str = "NONE"
    invoke_mode: str = "BUFFERED"


class FunctionUrlParser(SourceParser):
    """Collects the FunctionUrlConfig of every function."""

    def __init__(self) -> None:
        self.function_urls: list[FunctionUrl] = []

    def read_function(
        self, reader: Reader, function_id: str, properties: Mapping[str, Any]
    ) -> None:
        """A function with FunctionUrlConfig gets an endpoint of its own."""
        if "FunctionUrlConfig" not in properties:
            return
        config = reader.resolve(properties["FunctionUrlConfig"])
        config = config if isinstance(config, dict) else {}
        url = FunctionUrl(
            function_id,
            auth_type=as_text(config.get("AuthType", "NONE")).upper(),
            invoke_mode=as_text(config.get("InvokeMode", "BUFFERED")).upper(),
        )
        self.function_urls.append(url)
        if url.invoke_mode != "BUFFERED":
            reader.note(f"{function_id}: function URL answers buffered locally, not streamed")
        if "Cors" in config:
            reader.note(f"{function_id}: function URL CORS settings are not applied locally")
