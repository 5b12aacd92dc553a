"""The OpenAPI document and the interactive docs (Swagger UI), served without any CDN."""

from flask import Blueprint, Response, current_app, url_for
from flask_restful import Resource
from markupsafe import escape
from swagger_ui_bundle import swagger_ui_path

from app.apidoc import doc
from app.openapi import openapi_bytes
from app.personal_tokens.scopes import PUBLIC

# Swagger UI's own files, from the swagger-ui-bundle package.
assets_bp = Blueprint("docs", __name__, static_folder=str(swagger_ui_path), static_url_path="/docs/assets")

# Only this origin's scripts and styles: the initializer is a file, not an inline script.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Todos API</title>
<link rel="stylesheet" href="{css}">
<link rel="icon" type="image/png" href="{icon}">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec}"></div>
<script src="{bundle}"></script>
<script src="{init}"></script>
</body>
</html>
"""

INITIALIZER = """window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null
  });
});
"""


@assets_bp.route("/docs/swagger-initializer.js")
def initializer():
    return Response(INITIALIZER, mimetype="text/javascript", headers={"Cache-Control": "public, max-age=3600"})


initializer.scope = PUBLIC


class OpenApiDocument(Resource):
    scope = PUBLIC

    @doc(
        "The OpenAPI 3 document of this API",
        responses={200: "application/json"},
        auth=False,
        operation_id="getOpenApiDocument",
        tags=["Operations"],
    )
    def get(self):
        """Answer the OpenAPI document, built once per process."""
        body = openapi_bytes(current_app._get_current_object())
        return Response(body, mimetype="application/json", headers={"Cache-Control": "public, max-age=300"})


class Docs(Resource):
    scope = PUBLIC

    @doc(
        "Interactive API documentation (Swagger UI)",
        responses={200: "text/html"},
        auth=False,
        operation_id="getDocs",
        tags=["Operations"],
    )
    def get(self):
        """Answer the Swagger UI page; its scripts and styles come from this service."""
        page = PAGE.format(
            css=escape(url_for("docs.static", filename="swagger-ui.css")),
            icon=escape(url_for("docs.static", filename="favicon-32x32.png")),
            spec=escape(url_for("api.openapi")),
            bundle=escape(url_for("docs.static", filename="swagger-ui-bundle.js")),
            init=escape(url_for("docs.initializer")),
        )
        return Response(page, mimetype="text/html", headers={"Content-Security-Policy": DOCS_CSP})
