"""The OpenAPI 3 document, generated from the routing table, the @doc metadata and the schemas."""

import re

import orjson
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask_restful import inputs

from app import openapi_parts as parts
from app.apidoc import Bare, Page
from app.schemas.base import AbsoluteUrl

BLUEPRINTS = ("api", "ops")
IGNORED_METHODS = {"HEAD", "OPTIONS"}
METHOD_ORDER = {method: rank for rank, method in enumerate(("GET", "POST", "PUT", "PATCH", "DELETE"))}
_ARGUMENT = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")


def schema_name(schema):
    """Component name of a schema: its class name without "Schema"; partial instances end in "Patch"."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__.removesuffix("Schema") or cls.__name__
    if isinstance(schema, type):
        return name
    if schema.partial:
        name += "Patch"
    if schema.only or schema.exclude:  # a narrower view of the same class, e.g. a list's summary rows
        name += "Summary"
    return name


def documented_operations(app):
    """Yield (rule, method, view class, @doc metadata or None) for every API and operations route."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint.split(".", 1)[0] not in BLUEPRINTS:
            continue
        view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
        for method in sorted(rule.methods - IGNORED_METHODS, key=lambda m: (METHOD_ORDER.get(m, 9), m)):
            handler = getattr(view_class, method.lower(), None) if view_class else None
            yield rule, method, view_class, getattr(handler, "__apidoc__", None)


def path_and_parameters(rule):
    """The OpenAPI path of a Werkzeug rule and its path parameters with types and bounds."""
    parameters = []
    for match in _ARGUMENT.finditer(rule.rule):
        converter, args, name = match["converter"] or "string", match["args"] or "", match["name"]
        if converter == "int":
            bounds = dict(part.strip().split("=") for part in args.split(",") if "=" in part)
            schema = {"type": "integer"}
            if "min" in bounds:
                schema["minimum"] = int(bounds["min"])
            if "max" in bounds:
                schema["maximum"] = int(bounds["max"])
            description = "Identifier; anything else, or an id you may not see, is a 404."
        else:
            schema = {"type": "string"}
            bounds = dict(part.strip().split("=") for part in args.split(",") if "=" in part)
            if "length" in bounds:
                schema["minLength"] = schema["maxLength"] = int(bounds["length"])
            if "minlength" in bounds:
                schema["minLength"] = int(bounds["minlength"])
            if "maxlength" in bounds:
                schema["maxLength"] = int(bounds["maxlength"])
            description = "The share link's secret token: it is the credential." if "token" in name else None
        parameter = {"name": name, "in": "path", "required": True, "schema": schema}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return _ARGUMENT.sub(lambda m: "{" + m["name"] + "}", rule.rule), parameters


def argument_schema(argument):
    """The OpenAPI schema of one reqparse Argument: type, bounds, choices, default, repetition."""
    kind = argument.type
    if hasattr(kind, "openapi"):
        schema = dict(kind.openapi)
    elif isinstance(kind, inputs.regex):
        schema = {"type": "string", "pattern": kind.pattern}
    elif isinstance(kind, inputs.int_range):
        schema = {"type": "integer", "minimum": kind.low, "maximum": kind.high}
    elif kind is int:
        schema = {"type": "integer"}
    elif kind in (inputs.natural, inputs.positive):
        schema = {"type": "integer", "minimum": 0 if kind is inputs.natural else 1}
    elif kind is float:
        schema = {"type": "number"}
    elif kind is inputs.boolean:
        schema = {"type": "boolean"}
    elif kind is inputs.datetime_from_iso8601 or "rfc3339" in getattr(kind, "__name__", ""):
        schema = {"type": "string", "format": "date-time"}
    elif kind is inputs.date:
        schema = {"type": "string", "format": "date"}
    else:
        schema = {"type": "string"}
    if argument.choices:
        schema["enum"] = list(argument.choices)
    if argument.default is not None and not callable(argument.default):
        schema["default"] = argument.default
    if argument.action == "append":
        schema = {"type": "array", "items": schema}
        if getattr(kind, "max_items", None):
            schema["maxItems"] = kind.max_items
    return schema


def query_parameters(parser):
    """OpenAPI query parameters from a reqparse RequestParser."""
    parameters = []
    for argument in parser.args:
        parameter = {
            "name": argument.name,
            "in": "query",
            "required": bool(argument.required),
            "schema": argument_schema(argument),
        }
        if argument.help:
            parameter["description"] = str(argument.help).replace("{error_msg}", "").strip()
        if argument.action == "append":
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    return parameters


def response_content(spec):
    """The JSON schema of a response description: a schema, a Page, a Bare array, or nothing."""
    if spec is None:
        return None
    if isinstance(spec, Page):
        return {
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": {
                "items": {"type": "array", "items": spec.schema},
                "next_cursor": {
                    "type": "string",
                    "nullable": True,
                    "description": "Pass as `cursor` for the next page; null on the last page.",
                },
            },
        }
    if isinstance(spec, Bare):
        return {"type": "array", "items": spec.schema}
    return spec


def build_spec(app):
    """Build the document as a dict."""
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    spec = APISpec(
        title="Todos API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": parts.DESCRIPTION},
    )
    plugin.map_to_openapi_type(AbsoluteUrl, "string", "uri")
    parts.register_components(spec)
    operation_ids = set()
    paths = {}
    for rule, method, view_class, meta in documented_operations(app):
        path, path_params = path_and_parameters(rule)
        operation = parts.operation(rule, method, view_class, meta, response_content, query_parameters)
        operation["operationId"] = _unique(operation["operationId"], method, operation_ids)
        paths.setdefault(path, ({}, path_params))[0][method.lower()] = operation
    for path, (operations, path_params) in paths.items():
        spec.path(path=path, operations=operations, parameters=path_params)
    document = spec.to_dict()
    for name, schema in document["components"]["schemas"].items():
        if name != "Problem":  # an error may quote what was refused, NUL included
            forbid_nul(schema)
    forbid_nul(document["paths"])
    return document


# PostgreSQL text cannot hold U+0000, so every string refuses it (app.http): the document says so.
NO_NUL = "^[^\\x00]*$"


def forbid_nul(node):
    """Give every string schema without a pattern or choices the pattern that excludes NUL; return `node`."""
    if isinstance(node, dict):
        if node.get("type") == "string" and "pattern" not in node and "enum" not in node:
            node["pattern"] = NO_NUL
        for value in node.values():
            forbid_nul(value)
    elif isinstance(node, list):
        for value in node:
            forbid_nul(value)
    return node


def _unique(operation_id, method, seen):
    if operation_id in seen:
        operation_id += method.capitalize()
    while operation_id in seen:
        operation_id += "2"
    seen.add(operation_id)
    return operation_id


def openapi_bytes(app):
    """The document as JSON bytes, built once per process and kept on the app."""
    cached = app.extensions.get("openapi")
    if cached is None:
        cached = app.extensions["openapi"] = orjson.dumps(build_spec(app))
    return cached
