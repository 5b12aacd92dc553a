"""Shared Marshmallow pieces: strict base schema, RFC 3339 times, absolute URLs."""

from datetime import UTC

from flask import g, url_for
from marshmallow import RAISE, Schema, fields, utils


class StrictSchema(Schema):
    """Unknown fields are an error (422), never silently dropped."""

    class Meta:
        unknown = RAISE


class UTCDateTime(fields.AwareDateTime):
    """RFC 3339 in UTC with a `Z`; input without an offset is rejected."""

    default_error_messages = {"naive": "Give a time with an offset, e.g. 2026-11-21T09:30:00Z."}

    def __init__(self, **kwargs):
        super().__init__(format="iso", default_timezone=None, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        # isoformat, not strftime("%Y"): glibc does not pad years before 1000 ("200-06-26").
        return value.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).astimezone(UTC)


class AbsoluteUrl(fields.Field):
    """The absolute URL of an object, from an endpoint and the object's attributes."""

    # Stand-ins for the parameters while url_for builds a template: digits no route has.
    SENTINEL = 10**15

    def __init__(self, endpoint, **params):
        super().__init__(dump_only=True)
        self.endpoint = endpoint
        self.params = params  # url parameter -> attribute name

    def get_value(self, obj, attr, accessor=None, default=None):
        return obj  # the URL is built from the object, not read from one attribute

    def _serialize(self, value, attr, obj, **kwargs):
        # An object or a mapping (a page of plain rows), read as Marshmallow reads any field.
        values = {param: int(utils.get_value(obj, name)) for param, name in self.params.items()}
        return self._template().format_map(values)

    def _template(self):
        """url_for's answer with a `{param}` slot per parameter, built once per request and endpoint."""
        templates = g.setdefault("_url_templates", {})
        template = templates.get(self.endpoint)
        if template is None:
            stand_ins = {param: self.SENTINEL + i for i, param in enumerate(self.params)}
            external = url_for(self.endpoint, _external=True, **stand_ins)
            path = url_for(self.endpoint, **stand_ins)  # the tail of `external`: only the route's own text
            template = external[: len(external) - len(path)].replace("{", "{{").replace("}", "}}")
            path = path.replace("{", "{{").replace("}", "}}")
            for param, stand_in in stand_ins.items():
                path = path.replace(str(stand_in), "{" + param + "}")
            template = templates[self.endpoint] = template + path
        return template


class ResourceSchema(StrictSchema):
    """Fields every resource object carries."""

    id = fields.Integer(dump_only=True)
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)
