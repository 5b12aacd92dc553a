"""The migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from tests.conftest import PG_URL, make_config


def _fresh_url(tmp_path):
    if not PG_URL:
        return f"sqlite:///{tmp_path}/migrated.sqlite3"
    # A scratch schema in the test database keeps the migration run apart from the tests' tables.
    engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS migration_check CASCADE"))
        conn.execute(text("CREATE SCHEMA migration_check"))
    engine.dispose()
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3Dmigration_check"


def test_migrations_match_models(tmp_path):
    app = create_app(make_config(_fresh_url(tmp_path)))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        db.engine.dispose()
