"""`flask tokens create`: a personal access token for an account, for operators' automation."""

import re
from datetime import timedelta

import click
from flask.cli import AppGroup
from marshmallow import ValidationError
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.models.base import utcnow
from app.personal_tokens.scopes import SCOPES
from app.personal_tokens.service import create_token

tokens_cli = AppGroup("tokens", help="Manage personal access tokens.")


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for (1-100 characters).")
@click.option("--scopes", required=True, help=f"Comma-separated, from: {', '.join(SCOPES)}.")
@click.option("--days", type=int, default=90, show_default=True, help="Lifetime in days (1-366).")
def create(email, name, scopes, days):
    """Create a personal access token for EMAIL and print it (only its hash is stored)."""
    from app.schemas.personal_token import personal_token_schema

    user = db.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()
    if user is None or not user.is_active:
        raise click.ClickException(f"No active account with the email {email!r}.")
    if not 1 <= days <= 366:
        raise click.ClickException("--days must be from 1 to 366.")
    body = {"name": name, "scopes": [s for s in re.split(r"[,\s]+", scopes) if s]}
    try:
        data = personal_token_schema.load(body)
    except ValidationError as e:
        problems = "; ".join(f"{field}: {' '.join(map(str, msgs))}" for field, msgs in e.normalized_messages().items())
        raise click.ClickException(problems) from None
    personal, secret = create_token(user.id, data["name"], data["scopes"], utcnow() + timedelta(days=days))
    db.session.commit()
    click.echo(
        f"Created token {personal.id} ({personal.scope}) for {user.email}, expiring {personal.expires_at:%Y-%m-%d}:"
    )
    click.echo(secret)
