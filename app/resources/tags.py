"""Tags: `Tags` (/tags), the tag names on the caller's visible todos with their counts."""

from flask_jwt_extended import jwt_required
from flask_restful import Resource
from sqlalchemy import func, select

from app.apidoc import Page, doc
from app.extensions import db
from app.models import Todo, TodoTag
from app.pagination import page_result, paginate, sort_parser
from app.permissions import visible_list_ids
from app.schemas.tag import tag_schema

TAG_SORTS = {"name": TodoTag.name}
tag_parser = sort_parser(TAG_SORTS, "name")


class Tags(Resource):
    scope = "todos"
    method_decorators = [jwt_required()]

    @doc(
        "List the tags on the caller's visible todos, with counts.",
        query=tag_parser,
        responses={200: Page(tag_schema)},
        errors=(400,),
        tags=["tags"],
    )
    def get(self):
        """List tags with counts."""
        args = tag_parser.parse_args()
        query = (
            select(TodoTag.name, func.count().label("count"))
            .join(Todo, Todo.id == TodoTag.todo_id)
            .where(Todo.list_id.in_(visible_list_ids()))
            .group_by(TodoTag.name)
        )
        rows, cursor = paginate(query, args["sort"], TAG_SORTS, TodoTag.name, args, db.session, scalars=False)
        return page_result(tag_schema.dump(rows, many=True), cursor)
