"""The web app's account pages in headless Chromium, against Gunicorn and the worker as `make run` starts them.

Personal tokens are made, used by a script and revoked; an export is made, downloaded and
imported again; a password is reset through the link of a mail that reached an SMTP server.
"""

import json
import re
import urllib.error
import urllib.request

import pytest

from tests.browser.conftest import PASSWORD, mailed_link, needs_browser, new_email, service_with_worker, sign_up

pytestmark = needs_browser

JOB = 60_000  # ms an export or import may take on a loaded machine (the worker polls every 0.2 s)


def expect():
    from playwright.sync_api import expect as expect_

    return expect_


@pytest.fixture(scope="module")
def web_server(database_url, smtp):
    with service_with_worker(database_url, smtp) as live:
        yield live


def bearer(base_url, method, path, token, body=None):
    """Call the API as a script would, with a personal token: (status, body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + "/api/v1" + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_personal_tokens_are_made_shown_once_used_and_revoked(open_context, web_server):
    w = open_context()
    sign_up(w, new_email("tokens"))
    page = w.page
    status, made = w.api("POST", "/lists", {"name": "Scripted"})
    assert status == 201, made
    page.goto("/#/tokens")
    page.get_by_role("heading", level=1, name="Personal access tokens").wait_for()

    # Bad input: the API's words under the field they name.
    page.get_by_role("button", name="Create token").click()
    name = page.get_by_label("Token name")
    expect()(name).to_have_attribute("aria-invalid", "true")
    expect()(page.locator(f"#{name.get_attribute('id')}-error")).not_to_be_empty()

    name.fill("backup script")
    page.get_by_label("todos:read", exact=True).uncheck()
    page.get_by_label("lists:read", exact=True).check()
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("New token")
    expect()(secret).to_have_value(re.compile(r"^tdp_"))
    token = secret.input_value()
    listed = page.get_by_role("listitem").filter(has_text="backup script")
    expect()(listed).to_contain_text("lists:read")

    # The token works as its scopes say, for a script.
    status, lists = bearer(web_server.url, "GET", "/lists", token)
    assert status == 200 and [lst["name"] for lst in lists["items"]] == ["Scripted"]
    assert bearer(web_server.url, "POST", "/lists", token, {"name": "Not allowed"})[0] == 403

    # Shown once: after a reload the page lists it without its secret.
    page.reload()
    expect()(page.get_by_role("listitem").filter(has_text="backup script")).to_have_count(1)
    expect()(page.get_by_label("New token")).to_have_count(0)
    assert token not in page.content()

    page.get_by_role("button", name="Revoke backup script").click()
    expect()(page.get_by_role("listitem").filter(has_text="backup script")).to_have_count(0)
    assert bearer(web_server.url, "GET", "/lists", token)[0] == 401
    assert w.errors == []


def test_export_download_and_import_again(open_context, tmp_path):
    w = open_context()
    sign_up(w, new_email("data"))
    page = w.page
    status, made = w.api("POST", "/lists", {"name": "Garden"})
    assert status == 201, made
    for title in ("Prune roses", "Sow beans"):
        assert w.api("POST", f"/lists/{made['id']}/todos", {"title": title, "tags": ["spring"]})[0] == 201
    page.goto("/#/data")
    page.get_by_role("heading", level=1, name="Export and import").wait_for()

    exports = page.get_by_role("region", name="Exports")
    exports.get_by_label("Format").select_option("json")
    exports.get_by_label("List").select_option(label="Garden")
    exports.get_by_role("button", name="Export").click()
    download_link = exports.get_by_role("link", name="Download")
    expect()(download_link).to_be_visible(timeout=JOB)
    with page.expect_download() as started:
        download_link.click()
    exported = tmp_path / "garden.json"
    started.value.save_as(exported)
    document = json.loads(exported.read_text())
    assert [lst["name"] for lst in document["lists"]] == ["Garden"]
    assert sorted(t["title"] for t in document["lists"][0]["todos"]) == ["Prune roses", "Sow beans"]

    imports = page.get_by_role("region", name="Imports")
    imports.get_by_role("button", name="Import").click()  # no file chosen: said next to the field
    expect()(imports.locator("#import-file-error")).to_contain_text("Choose a file")

    imports.get_by_label(re.compile("^File")).set_input_files(str(exported))
    imports.get_by_role("button", name="Import").click()
    expect()(imports.get_by_role("listitem").filter(has_text="done")).to_have_count(1, timeout=JOB)
    status, lists = w.api("GET", "/lists?limit=200")
    assert sorted(lst["name"] for lst in lists["items"]) == ["Garden", "Garden"]
    copy = next(lst for lst in lists["items"] if lst["id"] != made["id"])
    status, todos = w.api("GET", f"/lists/{copy['id']}/todos")
    assert sorted((t["title"], t["tags"]) for t in todos["items"]) == [
        ("Prune roses", ["spring"]),
        ("Sow beans", ["spring"]),
    ]

    # A file that is no export fails as a whole, and the page says why.
    bad = tmp_path / "not-an-export.json"
    bad.write_text(json.dumps({"format": "something else"}))
    imports.get_by_label(re.compile("^File")).set_input_files(str(bad))
    imports.get_by_role("button", name="Import").click()
    expect()(imports.get_by_role("listitem").filter(has_text="failed")).to_contain_text(
        "neither a Todos API export", timeout=JOB
    )
    assert len(w.api("GET", "/lists?limit=200")[1]["items"]) == 2
    assert w.errors == []


def test_password_reset_through_the_mailed_link(open_context, smtp):
    w = open_context()
    email = new_email("forgetful")
    sign_up(w, email)
    page = w.page
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()

    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_role("heading", name="Reset your password").wait_for()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send me a link").click()
    expect()(page.get_by_role("status").filter(has_text="on its way")).to_be_visible()

    link = mailed_link(smtp, email, "/reset-password")
    page.goto(link)
    page.get_by_role("heading", name="Choose a new password").wait_for()
    page.get_by_label("New password", exact=True).fill("short")  # the API's rule, under the field
    page.get_by_role("button", name="Change password").click()
    field = page.get_by_label("New password", exact=True)
    expect()(field).to_have_attribute("aria-invalid", "true")
    new_password = "a-brand-new-passphrase"
    field.fill(new_password)
    page.get_by_role("button", name="Change password").click()
    expect()(page.get_by_role("status").filter(has_text="Your password was changed")).to_be_visible()

    # The link works once.
    page.goto(link)
    page.get_by_label("New password", exact=True).fill("yet-another-passphrase")
    page.get_by_role("button", name="Change password").click()
    expect()(page.get_by_role("alert").filter(has_text="can no longer be used")).to_be_visible()

    page.goto("/#/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect()(page.locator(".form-error")).to_be_visible()  # the old password no longer works
    page.get_by_label("Password").fill(new_password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Your lists").wait_for()
    assert w.errors == []
