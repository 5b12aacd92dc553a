"""Personal access tokens: long-lived bearer tokens with scopes, for scripts and integrations."""
