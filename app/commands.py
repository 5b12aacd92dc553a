"""Flask CLI commands."""

import click
from flask.cli import AppGroup

users_cli = AppGroup("users", help="Manage user accounts.")


def register(app):
    app.cli.add_command(users_cli)
