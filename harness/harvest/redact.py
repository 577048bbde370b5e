"""Redaction of secrets in everything harvest writes (store, JSON, logs).

Why here and first: a user's session files hold whatever passed through the terminal --
keys pasted into prompts, ``.env`` files the agent printed, auth headers in curl commands.
Harvest keeps digests for months and mining turns them into task files people share, so
every string is passed through :func:`redact_text` (and every JSON object through
:func:`redact_obj`, which also blanks the values of secret-named keys) before it leaves
the reader. Patterns favour catching a secret over keeping a look-alike.
"""

from __future__ import annotations

import re
from typing import Any

MARK = "[REDACTED]"

#: (name, pattern, replacement); order matters (sk-ant- before the generic sk-)
_PATTERNS: list[tuple[str, re.Pattern[str], str]] = [
    (
        "private-key",
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        MARK,
    ),
    (
        "auth-header",
        re.compile(
            r"(?i)\b((?:proxy-)?authorization\s*[:=]\s*[\"']?\s*(?:bearer|basic|token|digest)\s+)[^\s\"'`,;]+"
        ),
        r"\1" + MARK,
    ),
    ("bearer", re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/-]{12,}=*"), r"\1" + MARK),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}"), MARK),
    ("anthropic", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{8,}"), MARK),
    ("openai", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"), MARK),
    ("aws", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MARK),
    ("github", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), MARK),
    ("slack", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}"), MARK),
    ("google", re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), MARK),
    (
        "url-password",
        re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(@)"),
        r"\1" + MARK + r"\2",
    ),
]

#: key names whose values are secrets, wherever they appear (JSON keys, KEY=value, key: value)
SECRET_NAME = (
    r"(?:api[_-]?key|apikey|secret|password|passwd|pwd|passphrase|credentials?|private[_-]?key"
    r"|access[_-]?key|auth[_-]?token|access[_-]?token|refresh[_-]?token|id[_-]?token"
    r"|session[_-]?token|client[_-]?secret|cookie|token)"
)
_SECRET_KEY = re.compile(rf"(?i)^[\w.-]*{SECRET_NAME}[\w.-]*$")
#: ... except counters and names that only look like it
_NOT_SECRET_KEY = re.compile(
    r"(?i)(tokens|token_count|tokenizer|_tokens?_(?:used|limit|details)|token_usage)$"
)
_JSON_PAIR = re.compile(rf'(?i)("[\w.-]*{SECRET_NAME}[\w.-]*"\s*:\s*)"(?:[^"\\]|\\.)*"')
_ESCAPED_JSON_PAIR = re.compile(
    rf'(?i)(\\"[\w.-]*{SECRET_NAME}[\w.-]*\\"\s*:\s*)\\"(?:[^"\\]|\\[^"])*\\"'
)
_ENV_PAIR = re.compile(
    rf"""(?i)\b([A-Z0-9_]*{SECRET_NAME}[A-Z0-9_]*\s*=\s*)(?![\s"']*\[REDACTED\])(?:"[^"\n]*"|'[^'\n]*'|[^\s"'`;&|]+)"""
)


def secret_key(name: str) -> bool:
    """True when a JSON key names a secret (``api_key``, ``client_secret``, ``password``...)."""
    return bool(_SECRET_KEY.match(name)) and not _NOT_SECRET_KEY.search(name)


def redact_text(text: str) -> str:
    """``text`` with every known secret shape replaced by ``[REDACTED]``."""
    if not text:
        return text
    for _name, pat, repl in _PATTERNS:
        text = pat.sub(repl, text)
    text = _JSON_PAIR.sub(r'\1"' + MARK + '"', text)
    text = _ESCAPED_JSON_PAIR.sub(r'\1\\"' + MARK + r'\\"', text)
    return _ENV_PAIR.sub(
        lambda m: (
            m.group(0) if _NOT_SECRET_KEY.search(m.group(1).rstrip("= ")) else m.group(1) + MARK
        ),
        text,
    )


def redact_obj(value: Any) -> Any:
    """A deep copy of a JSON-like value with strings redacted and secret-named keys blanked."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [redact_obj(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact_obj(v) for v in value)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if isinstance(k, str) and secret_key(k) and isinstance(v, str) and v:
                out[k] = MARK
            else:
                out[k] = redact_obj(v)
        return out
    return value
