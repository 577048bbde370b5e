"""One call to the Gateway's Anthropic Messages route: the proposer's only model call.

Why through the Gateway (as the rubric judge does): the user's API key stays in the Gateway
process; ``api_key`` here is the Gateway's per-call key, which opens nothing else and is
never logged or written. Tests script the model (a rule matching the prompt's marker line);
users record or go live.
"""

from __future__ import annotations

import anthropic

from harness.errors import HarnessError

MAX_TOKENS = 8000


class ProposerCallFailed(HarnessError):
    """The model call did not return a reply (Gateway refused, timed out, no rule matched)."""


def ask(*, base_url: str, api_key: str, model: str, system: str, prompt: str,
        timeout_s: float, max_tokens: int = MAX_TOKENS) -> str:
    """The reply's text; :class:`ProposerCallFailed` in one line when there is none."""
    client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=2,
                                 timeout=timeout_s)
    try:
        msg = client.messages.create(model=model, max_tokens=max_tokens, system=system,
                                     messages=[{"role": "user", "content": prompt}])
    except anthropic.APIError as exc:
        detail = str(getattr(exc, "message", "") or exc)
        if api_key:
            detail = detail.replace(api_key, "[REDACTED]")
        raise ProposerCallFailed(
            f"the proposer's model call failed: {type(exc).__name__}: {detail[:200]}",
            hint="check the Gateway mode (a scripted rule must match the proposer's prompt) "
                 "and the key") from None
    finally:
        client.close()
    return "".join(getattr(b, "text", "") for b in msg.content)
