"""Dashboard passwords: salted scrypt hashes, constant-time checks, slowing repeated failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from journey_core.errors import ConfigError

SCHEME = "scrypt"
_N, _R, _P = 2**14, 8, 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """Hash a password as ``scrypt$n$r$p$salt$hash`` (salt random unless given).

    >>> encoded = hash_password("correct horse")
    >>> encoded.startswith("scrypt$16384$8$1$") and verify_password("correct horse", encoded)
    True
    """
    if not password:
        msg = "The password is empty; choose one of at least 12 characters."
        raise ConfigError(msg)
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"{SCHEME}${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


NOT_A_HASH = "is not in the form `scrypt$n$r$p$salt$hash`; create one with `journey hash-password`."
"""What a configured hash that is not one is told (after its name)."""
_MALFORMED = f"The configured password hash {NOT_A_HASH}"


def _parts(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    """``(n, r, p, salt, digest)`` of a hash from :func:`hash_password`; ``ValueError`` if
    it is not one."""
    scheme, n, r, p, salt, digest = encoded.strip().split("$")
    cost, block, parallel = int(n), int(r), int(p)
    if scheme != SCHEME or cost < 2 or cost & (cost - 1) or block < 1 or parallel < 1:
        raise ValueError(scheme)
    expected = _unb64(digest)
    if not expected:
        raise ValueError(digest)
    return cost, block, parallel, _unb64(salt), expected


def check_hash(encoded: str) -> None:
    """Raise :class:`ConfigError` unless ``encoded`` has the form of :func:`hash_password`'s
    hashes (checked when the dashboard starts, not only at the first sign-in).

    >>> check_hash(hash_password("correct horse"))
    >>> check_hash("correct horse")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    journey_core.errors.ConfigError: The configured password hash is not in the form ...
    """
    try:
        _parts(encoded)
    except (ValueError, TypeError):
        raise ConfigError(_MALFORMED) from None


def verify_password(password: str, encoded: str) -> bool:
    """Check ``password`` against a hash from :func:`hash_password`, in constant time."""
    try:
        n, r, p, salt, expected = _parts(encoded)
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(expected)
        )
    except (ValueError, TypeError):
        raise ConfigError(_MALFORMED) from None
    return hmac.compare_digest(actual, expected)


@dataclass
class Throttle:
    """Slows repeated failed sign-ins: after ``free`` failures each try waits twice as long.

    Times are passed in explicitly (seconds on any monotonic clock).

    >>> t = Throttle(free=1, base_delay=1.0)
    >>> t.record_failure(now=0.0); t.record_failure(now=0.0); t.wait_seconds(now=0.0)
    2.0
    """

    free: int = 3
    base_delay: float = 1.0
    max_delay: float = 60.0
    failures: int = 0
    _last_failure: float = field(default=0.0, repr=False)

    def record_failure(self, *, now: float) -> None:
        """Count a failed attempt at time ``now``."""
        self.failures += 1
        self._last_failure = now

    def reset(self) -> None:
        """Forget failures after a successful sign-in."""
        self.failures = 0

    def wait_seconds(self, *, now: float) -> float:
        """How long the next attempt must still wait (0 when it may go ahead)."""
        over = self.failures - self.free
        if over <= 0:
            return 0.0
        delay = min(self.max_delay, self.base_delay * 2**over)
        return max(0.0, self._last_failure + delay - now)
