"""Exports and imports (background jobs): start one (202), poll it, download an export's file."""

from functools import wraps

from flask import request, send_file
from flask_jwt_extended import current_user, jwt_required
from flask_restful import Resource
from sqlalchemy import select

from app.apidoc import Page, Upload, doc
from app.conditional import not_modified, representation_etag
from app.errors import abort
from app.extensions import db
from app.http import load_body
from app.idempotency import idempotent
from app.jobs import broker, service
from app.jobs.exporter import CONTENT_TYPES, EXPORT_FORMAT_DOC
from app.models import Job
from app.pagination import page_result, paginate, sort_parser
from app.schemas.job import export_job_schema, export_request_schema, import_job_schema

JOB_SORTS = {"created_at": Job.id}  # ids grow with creation time
job_parser = sort_parser(JOB_SORTS, "-created_at")
UPLOAD_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the file
UPLOAD = Upload("file", "The file to import: our JSON export, a Todoist CSV export or a Todo-Backend JSON array.")
JOB_DOC = (
    "The work runs in the background: poll `url` until `status` is `done` or `failed`; `progress` goes from 0 "
    "to 100. A job whose worker stopped is run again from the start (`attempts` counts the runs). At most "
    f"{service.PENDING_PER_USER} of your exports and imports may be queued or running at once (409 beyond)."
)


def _page(kind, schema):
    args = job_parser.parse_args()
    query = select(Job).where(Job.user_id == current_user.id, Job.kind == kind)
    rows, cursor = paginate(query, args["sort"], JOB_SORTS, Job.id, args, db.session)
    return page_result(schema.dump(rows, many=True), cursor)


def _accepted(job, schema):
    db.session.commit()
    broker.enqueue()
    body = schema.dump(job)
    return body, 202, {"Location": body["url"]}


def _one(job, schema):
    body = schema.dump(job)
    etag = representation_etag(body)
    return not_modified(etag) or (body, 200, {"ETag": etag})


def accepts_upload(fn):
    """Let this request's body reach the import limit (the service's MAX_CONTENT_LENGTH is for JSON)."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        request.max_content_length = service.IMPORT_MAX_BYTES + UPLOAD_OVERHEAD
        return fn(*args, **kwargs)

    return wrapper


def load_upload():
    """The `file` part of a multipart/form-data body: 415 for another body, 422 without it or with other parts."""
    if request.mimetype != "multipart/form-data":
        abort(415, "The body must be multipart/form-data with the file in a part named `file`.")
    unknown = sorted((set(request.form) | set(request.files)) - {"file"})
    if unknown:
        abort(422, errors={name: ["Unknown field."] for name in unknown})
    upload = request.files.get("file")
    if upload is None:
        abort(422, errors={"file": ["Missing data for required field."]})
    return upload


class ExportList(Resource):
    scope = "exports"
    method_decorators = [jwt_required()]

    @doc("List your exports, newest first.", query=job_parser, responses={200: Page(export_job_schema)})
    def get(self):
        """List the caller's exports."""
        return _page("export", export_job_schema)

    @doc(
        "Start an export of your lists (or one list) as JSON or CSV.",
        body=export_request_schema,
        responses={202: export_job_schema},
        errors=(404, 409),
        description=JOB_DOC + "\n\n" + EXPORT_FORMAT_DOC,
    )
    @idempotent
    def post(self):
        """Start an export."""
        job = service.create_export(current_user.id, load_body(export_request_schema))
        return _accepted(job, export_job_schema)


class ExportItem(Resource):
    scope = "exports"
    method_decorators = [jwt_required()]

    @doc("Get an export: its status, progress and, once done, its download_url.", responses={200: export_job_schema})
    def get(self, export_id):
        """Return one export."""
        return _one(service.find(current_user.id, "export", export_id), export_job_schema)


class ExportDownload(Resource):
    scope = "exports"
    method_decorators = [jwt_required()]

    @doc(
        "Download an export's file (as an attachment); 409 until it is done, 410 once it was removed.",
        responses={200: {"application/json": "ExportDocument", "text/csv": "string"}},
        errors=(404, 409, 410),
    )
    def get(self, export_id):
        """Send an export's file."""
        job = service.find(current_user.id, "export", export_id)
        fmt = job.params["format"]
        response = send_file(
            service.download_path(job),
            mimetype=CONTENT_TYPES[fmt],
            as_attachment=True,
            download_name=f"todos-export-{job.id}.{fmt}",
        )
        response.headers["Cache-Control"] = "no-store"
        return response


class ImportList(Resource):
    scope = "exports"
    method_decorators = [jwt_required()]

    @doc("List your imports, newest first.", query=job_parser, responses={200: Page(import_job_schema)})
    def get(self):
        """List the caller's imports."""
        return _page("import", import_job_schema)

    @doc(
        "Start an import of a file (at most 10 MiB) into new lists.",
        body=UPLOAD,
        responses={202: import_job_schema},
        errors=(409, 413, 415, 422),
        description=JOB_DOC,
    )
    @accepts_upload
    @idempotent
    def post(self):
        """Start an import."""
        job = service.create_import(current_user.id, load_upload())
        return _accepted(job, import_job_schema)


class ImportItem(Resource):
    scope = "exports"
    method_decorators = [jwt_required()]

    @doc(
        "Get an import: its status, progress, error (naming the first bad row) or result.",
        responses={200: import_job_schema},
    )
    def get(self, import_id):
        """Return one import."""
        return _one(service.find(current_user.id, "import", import_id), import_job_schema)
