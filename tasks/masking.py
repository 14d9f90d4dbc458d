"""Passwords in URIs, masked for messages and logs.

A module of its own, importing nothing heavy: the retries, the tracking helpers, the command's error
messages and the service launcher all mask URIs, and none of them should import another for it.
"""

from __future__ import annotations

import re

_PASSWORD_IN_URI = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@")


def masked_uri(uri: str) -> str:
    """``uri`` with any password replaced by ``***`` so it can be logged or shown."""
    return _PASSWORD_IN_URI.sub(lambda match: f"{match['scheme']}{match['user']}:***@", uri)
