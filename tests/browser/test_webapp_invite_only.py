"""Sign-up on a service that runs with REGISTRATION=invite-only, in headless Chromium.

The invitation mail's link opens the web app, which signs the person up with its
`invitation_token` (or lets an existing account sign in) and then joins the list.
"""

import pytest

from app import create_app
from tests.browser.conftest import PASSWORD, axe_serious, mailed_link, needs_browser, new_email, service_with_worker
from tests.conftest import make_config

pytestmark = needs_browser

LIVE = 30_000


def expect():
    from playwright.sync_api import expect as expect_

    return expect_


@pytest.fixture(scope="module")
def web_server(database_url, smtp):
    with service_with_worker(database_url, smtp, REGISTRATION="invite-only") as live:
        yield live


def create_account(database_url, email):
    """As an administrator does on an invite-only service: `flask users create EMAIL --password-stdin`."""
    result = (
        create_app(make_config(database_url))
        .test_cli_runner()
        .invoke(args=["users", "create", email, "--password-stdin"], input=PASSWORD + "\n")
    )
    assert result.exit_code == 0, result.output


def sign_in(page, email):
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def invite(page, email):
    page.get_by_label("Invite email").fill(email)
    page.get_by_role("button", name="Send invitation").click()
    sent = page.get_by_role("region", name="Invitations").get_by_role("listitem").filter(has_text=email)
    expect()(sent).to_contain_text("until")  # the service's answer, not the page's draft


def test_invitation_link_signs_up_and_joins(open_context, database_url, smtp):
    owner_email, invitee, member = new_email("owner"), new_email("invitee"), new_email("member")
    create_account(database_url, owner_email)
    create_account(database_url, member)
    owner = open_context()
    owner.page.goto("/#/signin")
    sign_in(owner.page, owner_email)
    owner.page.get_by_label("New list").fill("Team")
    owner.page.get_by_role("button", name="Create list").click()
    owner.page.get_by_role("heading", level=1, name="Team").wait_for()
    invite(owner.page, invitee)
    invite(owner.page, member)

    # Without an invitation the service says no, and the page says why.
    guest = open_context()
    page = guest.page
    page.goto("/#/signup")
    page.get_by_label("Email").fill(invitee)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect()(page.locator(".form-error")).to_contain_text("invitation only")

    # The mailed link: the sign-up sends its token; another address is refused next to the invitation.
    page.goto(mailed_link(smtp, invitee, "/accept-invitation"))
    page.get_by_role("heading", name="Create an account to join the list").wait_for()
    page.get_by_label("Email").fill(new_email("someone-else"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect()(page.locator("#invitation-note")).to_contain_text("Not for this email")
    assert axe_serious(page) == []
    page.get_by_label("Email").fill(invitee)
    page.get_by_role("button", name="Create account").click()
    expect()(page.get_by_role("status").filter(has_text="You joined the list.")).to_be_visible()
    _, me = guest.api("GET", "/users/me")
    assert me["email"] == invitee and me["email_verified"] is True
    page.get_by_role("link", name="Go to your lists").click()
    page.get_by_role("link", name="Team").click()
    expect()(page.get_by_role("heading", level=1, name="Team")).to_be_visible()
    expect()(page.get_by_text("You are editor")).to_be_visible()
    expect()(owner.page.locator("ul.members")).to_contain_text(invitee, timeout=LIVE)

    # An account that exists already signs in from the same link, and joins.
    other = open_context()
    other.page.goto(mailed_link(smtp, member, "/accept-invitation"))
    other.page.get_by_role("button", name="I already have an account").click()
    sign_in(other.page, member)
    expect()(other.page.get_by_role("status").filter(has_text="You joined the list.")).to_be_visible()
    status, lists = other.api("GET", "/lists")
    assert status == 200 and [lst["name"] for lst in lists["items"]] == ["Team"]
    assert owner.errors == [] and guest.errors == [] and other.errors == []
