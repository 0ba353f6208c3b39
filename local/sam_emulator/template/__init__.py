"""Reading a SAM template: `load_template` and the model it returns."""

from sam_emulator.template.function_url import FunctionUrl
from sam_emulator.template.functions import FunctionSpec
from sam_emulator.template.http_api import CorsConfiguration, LambdaAuthorizer, Route
from sam_emulator.template.kafka import KafkaMapping
from sam_emulator.template.loader import (
    Template,
    load_template,
    parse_template,
    parse_template_text,
)
from sam_emulator.template.reader import TemplateError
from sam_emulator.template.schedule import Schedule, rate_seconds

__all__ = [
    "CorsConfiguration",
    "FunctionSpec",
    "FunctionUrl",
    "KafkaMapping",
    "LambdaAuthorizer",
    "Route",
    "Schedule",
    "Template",
    "TemplateError",
    "load_template",
    "parse_template",
    "parse_template_text",
    "rate_seconds",
]
