"""Flask CLI commands."""

import sys

import click
from flask.cli import AppGroup
from marshmallow import ValidationError, validate
from sqlalchemy import select

from app.auth.passwords import hash_password, password_problem
from app.extensions import db
from app.models import User

users_cli = AppGroup("users", help="Manage user accounts.")


def _read_password(from_stdin):
    """The new admin's password: the first line of stdin, or a hidden prompt asked twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("create-admin")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_admin(email, password_stdin):
    """Create an admin account for EMAIL, or make the existing account an active admin."""
    email = email.strip().lower()
    user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if user is not None:
        user.role, user.is_active = "admin", True
        db.session.commit()
        click.echo(f"{email} is now an admin (password unchanged).")
        return
    try:
        validate.And(validate.Email(), validate.Length(max=254))(email)
    except ValidationError:
        raise click.ClickException(f"{email!r} is not an email address.") from None
    password = _read_password(password_stdin)
    problem = password_problem(password)
    if problem:
        raise click.ClickException(f"password: {problem}")
    db.session.add(User(email=email, password_hash=hash_password(password), role="admin", is_active=True))
    db.session.commit()
    click.echo(f"Created admin {email}.")


def register(app):
    from app.idempotency import idempotency_cli
    from app.webhooks.cli import webhooks_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(idempotency_cli)
    app.cli.add_command(webhooks_cli)
