"""How a model key reaches a node agent and nothing else on the way.

Why not a plain argument: Ray keeps an actor call's arguments in its object store and task
specs, where its dashboard, state API and logs can show them. So the key travels sealed: each
node agent makes a Diffie-Hellman key pair (the RFC 7919 ffdhe2048 group) when it starts and
gives the driver its public half (``hello``); the driver seals each key for that agent alone
(a fresh pair of its own, a keystream from SHA-256 over the shared secret, an HMAC tag).
What Ray carries is the driver's public half, the ciphertext and the tag: nothing a reader of
Ray's records can open. The key is opened inside the agent's process, into its Gateway's
upstream only: never a container's environment, never a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: RFC 7919 ffdhe2048 (a safe prime; generator 2)
_P = int(
    "ffffffffffffffffadf85458a2bb4a9aafdc5620273d3cf1d8b9c583ce2d3695"
    "a9e13641146433fbcc939dce249b3ef97d2fe363630c75d8f681b202aec4617a"
    "d3df1ed5d5fd65612433f51f5f066ed0856365553ded1af3b557135e7f57c935"
    "984f0c70e0e68b77e2a689daf3efe8721df158a136ade73530acca4f483a797a"
    "bc0ab182b324fb61d108a94bb2c8e3fbb96adab760d7f4681d4f42a3de394df4"
    "ae56ede76372bb190b07a7c8ee0a6d709e02fce1cdf7e2ecc03404cd28342f61"
    "9172fe9ce98583ff8e4f1232eef28183c3fe3b1b4c6fad733bb5fcbc2ec22005"
    "c58ef1837d1683b2c6f34a26c1b2effa886b423861285c97ffffffffffffffff", 16)
_G = 2


def _pair() -> tuple[int, int]:
    private = secrets.randbelow(_P - 3) + 2
    return private, pow(_G, private, _P)


def _keys(shared: int) -> tuple[bytes, bytes]:
    raw = shared.to_bytes(256, "big")
    return hashlib.sha256(b"enc" + raw).digest(), hashlib.sha256(b"mac" + raw).digest()


def _stream(key: bytes, n: int) -> bytes:
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(key + i.to_bytes(8, "big")).digest()
        i += 1
    return out[:n]


def _check_public(public: int) -> None:
    if not 1 < public < _P - 1:
        raise ValueError("not a public key of the ffdhe2048 group")


def seal(text: str, their_public: int) -> tuple[int, bytes, bytes]:
    """``text`` for the holder of ``their_public``'s private half: (our public, ciphertext, tag)."""
    _check_public(their_public)
    private, public = _pair()
    enc, mac = _keys(pow(their_public, private, _P))
    data = text.encode()
    body = bytes(a ^ b for a, b in zip(data, _stream(enc, len(data)), strict=True))
    return public, body, hmac.new(mac, body, hashlib.sha256).digest()


class Unwrapper:
    """A node agent's key pair; ``open`` reads what ``seal`` made for its public half."""

    def __init__(self) -> None:
        self._private, self.public = _pair()

    def __repr__(self) -> str:  # never the private half
        return "Unwrapper(<key pair>)"

    def open(self, box: tuple[int, bytes, bytes]) -> str:
        their_public, body, tag = box
        _check_public(their_public)
        enc, mac = _keys(pow(their_public, self._private, _P))
        if not hmac.compare_digest(tag, hmac.new(mac, body, hashlib.sha256).digest()):
            raise ValueError("the sealed key was not made for this node agent")
        return bytes(a ^ b for a, b in zip(body, _stream(enc, len(body)), strict=True)).decode()
