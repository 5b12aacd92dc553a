"""Shared Marshmallow pieces: strict base schema, RFC 3339 times, absolute URLs."""

from datetime import UTC, timedelta

from flask import g
from marshmallow import RAISE, Schema, fields, missing, utils

from app.http import external_url

_ZERO = timedelta(0)


class StrictSchema(Schema):
    """Unknown fields are an error (422), never silently dropped."""

    class Meta:
        unknown = RAISE


class UTCDateTime(fields.AwareDateTime):
    """RFC 3339 in UTC with a `Z`; input without an offset is rejected."""

    default_error_messages = {
        "naive": "Give a time with an offset, e.g. 2026-11-21T09:30:00Z.",
        "range": "The time is out of range: in UTC it must fall within the years 1 to 9999.",
    }

    def __init__(self, **kwargs):
        super().__init__(format="iso", default_timezone=None, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        # isoformat, not strftime("%Y"): glibc does not pad years before 1000 ("200-06-26").
        # Its first 19 characters are the date and the time to the second, years padded to four.
        if value.utcoffset() != _ZERO:  # another offset, or none (naive): converted first
            value = value.astimezone(UTC)
        return value.isoformat()[:19] + "Z"

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return super()._deserialize(value, attr, data, **kwargs).astimezone(UTC)
        except OverflowError:  # 9999-12-31T23:59:59-01:00 is in the year 10000 in UTC
            raise self.make_error("range") from None


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

    def formatter(self):
        """A function of an object to its URL, for many objects of one request (the template read once)."""
        template, params = self._template(), self.params.items()
        return lambda obj: template.format_map({param: int(utils.get_value(obj, name)) for param, name in params})

    def _template(self):
        """external_url's answer with a `{param}` slot per parameter, built once per request and endpoint."""
        templates = g.setdefault("_url_templates", {})
        template = templates.get(self.endpoint)
        if template is None:
            stand_ins = {param: self.SENTINEL + i for i, param in enumerate(self.params)}
            template = external_url(self.endpoint, **stand_ins).replace("{", "{{").replace("}", "}}")
            for param, stand_in in stand_ins.items():
                template = template.replace(str(stand_in), "{" + param + "}")
            templates[self.endpoint] = template
        return template


class ResourceSchema(StrictSchema):
    """Fields every resource object carries."""

    id = fields.Integer(dump_only=True)
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)


LOOKUP, OWN, URL = 0, 1, 2  # how rows_dumper reads a field: the row's key, its get_value, its URL


def _reading(field):
    if isinstance(field, AbsoluteUrl):
        return URL
    if type(field).get_value is not fields.Field.get_value or not field._CHECK_ATTRIBUTE:
        return OWN
    return LOOKUP


def _unchanged_type(field):
    """The type of the values that `field._serialize` hands back unchanged (and None), or None.

    Marshmallow's String, Integer and Float return a value of their own type as it is,
    and a field that does not override `_serialize` returns anything as it is: such
    values can skip the call. Any other value, or a field with its own `_serialize`,
    goes through it.
    """
    method = type(field)._serialize
    if method is fields.Field._serialize:
        return object
    if method is fields.String._serialize:
        return str
    if method is fields.Number._serialize and not field.as_string and field.num_type in (int, float):
        return field.num_type
    return None


def rows_dumper(schema):
    """A function that dumps a page of mappings exactly as `schema.dump(rows, many=True)` does, faster.

    Marshmallow's own dump sends every value of every row through Field.serialize: an
    accessor that tries getattr and item lookup in turn, then default handling, then
    the field's `_serialize`. A page's rows are plain mappings, so each field here reads
    its key and goes straight to `_serialize`, the part that makes the output, or skips
    it for a value it would hand back unchanged (_unchanged_type); URLs are built from
    one template per page (AbsoluteUrl.formatter); fields that read the whole object
    keep their own `get_value`. A schema with dump hooks or dotted attributes is left to
    Marshmallow.
    """
    hooks = schema._hooks
    if (
        hooks.get("pre_dump")
        or hooks.get("post_dump")
        or any("." in (field.attribute or name) for name, field in schema.dump_fields.items())
    ):
        return lambda rows: schema.dump(rows, many=True)
    plan = [
        (
            field.data_key if field.data_key is not None else name,
            name,
            field.attribute or name,
            field,
            _reading(field),
            _unchanged_type(field),
        )
        for name, field in schema.dump_fields.items()
    ]

    def dump(rows):
        formatters = {key: field.formatter() for key, _, _, field, how, _ in plan if how == URL}
        items = []
        for row in rows:
            item = {}
            for key, name, source, field, how, unchanged in plan:
                if how == URL:
                    item[key] = formatters[key](row)
                    continue
                if how == OWN:
                    value = field.get_value(row, source) if field._CHECK_ATTRIBUTE else None
                else:
                    value = row.get(source, missing)
                if value is missing:
                    default = field.dump_default
                    value = default() if callable(default) else default
                    if value is missing:
                        continue
                if unchanged is not None and (value is None or unchanged is object or type(value) is unchanged):
                    item[key] = value
                else:
                    item[key] = field._serialize(value, name, row)
            items.append(item)
        return items

    return dump
