"""One occurrence of a todo: a due time."""

from app.schemas.base import StrictSchema, UTCDateTime


class OccurrenceSchema(StrictSchema):
    due_at = UTCDateTime(dump_only=True)


occurrence_schema = OccurrenceSchema()
