"""Signing in with the school's own accounts through OpenID Connect (issue 17).

``settings`` reads the ``[[oidc]]`` entries and ``[sign_in]``; ``provider`` talks to an
OpenID Provider (discovery, keys, the token endpoint); ``id_token`` checks what it answers;
``pending`` keeps the state, nonce and PKCE verifier of an authorization under way;
``identities`` maps claims to a lessoncam account. The use case itself, one with signing in by
password, is :func:`lessoncam_server.access.signing_in.sign_in_with_provider`.
"""
