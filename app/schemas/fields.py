"""Strict JSON field types shared by the schemas."""

from marshmallow import fields

MAX_ID = 2_147_483_647  # ids are 32-bit: a larger one names nothing (422, never a database error)


class StrictBoolean(fields.Boolean):
    """A JSON true or false; "true", 1, 0 or null are not booleans."""

    default_error_messages = {"invalid": "Not a valid boolean: use true or false."}

    def _deserialize(self, value, attr, data, **kwargs):
        # isinstance, not membership in {True}: 1 == True, so `1 in {True}` holds.
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value
