"""Flask CLI commands."""

import sys

import click
from flask.cli import AppGroup
from marshmallow import ValidationError, validate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.auth.passwords import hash_password, password_problem
from app.extensions import db
from app.models import User

users_cli = AppGroup("users", help="Manage user accounts.")


def _read_password(from_stdin):
    """The new account's password: the first line of stdin, or a hidden prompt asked twice."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _checked_email(email):
    email = email.strip().lower()
    try:
        validate.And(validate.Email(), validate.Length(max=254))(email)
    except ValidationError:
        raise click.ClickException(f"{email!r} is not an email address.") from None
    return email


def _new_password(from_stdin):
    """Read and check a password; called outside any database transaction, so a prompt holds no lock."""
    password = _read_password(from_stdin)
    problem = password_problem(password)
    if problem:
        raise click.ClickException(f"password: {problem}")
    return hash_password(password)


def _existing(email):
    """The account with `email`, or None; ends the read's transaction before returning."""
    user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    db.session.commit()
    return user


def _add(user):
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise click.ClickException(f"{user.email} already has an account.") from None


@users_cli.command("create-admin")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_admin(email, password_stdin):
    """Create an admin account for EMAIL, or make the existing account an active admin."""
    email = _checked_email(email)
    user = _existing(email)
    if user is not None:
        user.role, user.is_active = "admin", True
        db.session.commit()
        click.echo(f"{email} is now an admin (password unchanged).")
        return
    password_hash = _new_password(password_stdin)
    _add(User(email=email, password_hash=password_hash, role="admin", is_active=True, email_verified=True))
    click.echo(f"Created admin {email}.")


@users_cli.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--display-name", default=None, help="The account's display name.")
def create_user(email, password_stdin, display_name):
    """Create a user account for EMAIL, its address verified (how admins add people when REGISTRATION=closed)."""
    email = _checked_email(email)
    if _existing(email) is not None:
        raise click.ClickException(f"{email} already has an account.")
    password_hash = _new_password(password_stdin)
    name = (display_name or "").strip()[:100] or None
    _add(User(email=email, password_hash=password_hash, display_name=name, email_verified=True))
    click.echo(f"Created user {email}.")


def register(app):
    from app.idempotency import idempotency_cli
    from app.jobs.cli import jobs_cli
    from app.personal_tokens.cli import tokens_cli
    from app.webhooks.cli import webhooks_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(idempotency_cli)
    app.cli.add_command(webhooks_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(jobs_cli)
