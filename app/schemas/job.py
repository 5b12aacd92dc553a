"""Job schemas: exports and imports as their owner polls them, and the body that starts an export."""

from flask import url_for
from marshmallow import fields, validate

from app.schemas.base import AbsoluteUrl, ResourceSchema, StrictSchema, UTCDateTime
from app.schemas.fields import MAX_ID
from app.schemas.todo import JSONInteger

STATUS_TEXT = "queued, running, done or failed."


class ExportRequestSchema(StrictSchema):
    format = fields.String(
        required=True, validate=validate.OneOf(("json", "csv")), metadata={"description": "json or csv."}
    )
    list_id = JSONInteger(
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "Export only this list (one you can see); absent or null: every list of yours."},
    )


class JobSchema(ResourceSchema):
    status = fields.String(dump_only=True, metadata={"description": STATUS_TEXT})
    progress = fields.Integer(dump_only=True, metadata={"description": "0-100; 100 once done."})
    attempts = fields.Integer(dump_only=True, metadata={"description": "Runs so far (a run cut short is retried)."})
    finished_at = UTCDateTime(dump_only=True, allow_none=True)
    error = fields.String(
        dump_only=True, allow_none=True, metadata={"description": "Why the job failed (names the first bad row)."}
    )
    result = fields.Dict(dump_only=True, allow_none=True, metadata={"description": "What the job made, once done."})


class ExportJobSchema(JobSchema):
    url = AbsoluteUrl("api.export", export_id="id")
    format = fields.String(dump_only=True, attribute="params.format", metadata={"description": "json or csv."})
    list_id = fields.Integer(dump_only=True, allow_none=True, attribute="params.list_id")
    download_url = fields.Method(
        "_download_url",
        dump_only=True,
        allow_none=True,
        metadata={"type": "string", "format": "uri", "nullable": True, "description": "Once done: the file."},
    )
    expires_at = UTCDateTime(
        dump_only=True, allow_none=True, metadata={"description": "When the file is removed (then 410)."}
    )

    def _download_url(self, job):
        return url_for("api.export_download", export_id=job.id, _external=True) if job.status == "done" else None


class ImportJobSchema(JobSchema):
    url = AbsoluteUrl("api.import", import_id="id")
    filename = fields.String(dump_only=True, attribute="params.filename", metadata={"description": "As uploaded."})


export_request_schema = ExportRequestSchema()
export_job_schema = ExportJobSchema()
import_job_schema = ImportJobSchema()
