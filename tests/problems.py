"""The one assertion for a problem+json answer, shared by the test modules."""

PROBLEM = "application/problem+json"


def assert_problem(response, status):
    """Assert `response` is an RFC 9457 problem with `status`; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.json
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert body["title"] and body["detail"]
    assert "Traceback" not in response.get_data(as_text=True)
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    return body
