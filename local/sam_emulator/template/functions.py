"""AWS::Serverless::Function as the emulator runs it: code folder, handler, limits, environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sam_emulator.template.intrinsics import Unresolvable, as_text
from sam_emulator.template.reader import Reader, TemplateError

DEFAULT_TIMEOUT_SECONDS: Final = 3
DEFAULT_MEMORY_MB: Final = 128


@dataclass(frozen=True)
class FunctionSpec:
    """One function as the local runtime runs it."""

    logical_id: str
    code_dir: Path
    handler: str
    timeout_seconds: float
    memory_mb: int
    environment: Mapping[str, str]
    unresolved_environment: tuple[str, ...] = ()

    @property
    def handler_module(self) -> str:
        """The module part of Handler (`app` in `app.lambda_handler`)."""
        return self.handler.rsplit(".", 1)[0]

    @property
    def handler_function(self) -> str:
        """The function part of Handler (`lambda_handler` in `app.lambda_handler`)."""
        return self.handler.rsplit(".", 1)[1]

    @property
    def handler_file(self) -> Path:
        """The file Lambda would import for Handler: `a/b.handler` and `a.b.handler` are a/b.py."""
        relative = self.handler_module.replace(".", "/")
        module_file = self.code_dir / f"{relative}.py"
        package_file = self.code_dir / relative / "__init__.py"
        return package_file if not module_file.exists() and package_file.exists() else module_file


def read_function(
    reader: Reader, logical_id: str, properties: Mapping[str, Any]
) -> FunctionSpec | None:
    """The function's spec, with Globals.Function applied; None for what is not run locally."""
    if properties.get("PackageType") == "Image" or "InlineCode" in properties:
        reader.note(f"{logical_id}: image and inline-code functions are not run locally")
        return None
    function_globals = reader.globals("Function")

    def value(name: str, default: Any = None) -> Any:
        return reader.resolve(properties.get(name, function_globals.get(name, default)))

    code_uri = value("CodeUri", ".")
    handler = value("Handler")
    if not isinstance(code_uri, str) or not isinstance(handler, str) or "." not in handler:
        raise TemplateError(f"{logical_id}: needs a local CodeUri and a module.function Handler")
    environment, unresolved = _environment(reader, function_globals, properties)
    return FunctionSpec(
        logical_id=logical_id,
        code_dir=(reader.base_dir / code_uri).resolve(),
        handler=handler,
        timeout_seconds=float(as_text(value("Timeout", DEFAULT_TIMEOUT_SECONDS))),
        memory_mb=int(as_text(value("MemorySize", DEFAULT_MEMORY_MB))),
        environment=environment,
        unresolved_environment=unresolved,
    )


def _environment(
    reader: Reader, function_globals: Mapping[str, Any], properties: Mapping[str, Any]
) -> tuple[dict[str, str], tuple[str, ...]]:
    merged: dict[str, Any] = {}
    for source in (function_globals, properties):  # the function's own values win
        environment = source.get("Environment") or {}
        variables = environment.get("Variables") if isinstance(environment, dict) else None
        merged.update(variables if isinstance(variables, dict) else {})
    resolved: dict[str, str] = {}
    unresolved: list[str] = []
    for name, value in merged.items():
        try:
            resolved[str(name)] = reader.resolver.environment_value(value)
        except (Unresolvable, ValueError, TypeError, IndexError):
            unresolved.append(str(name))  # needs a deployed stack: dropped locally
    return resolved, tuple(unresolved)
