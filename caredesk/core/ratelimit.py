"""Rate limits on public and sign-in endpoints, counted in Django's cache (Redis when
configured), so they hold across processes: one place for every limit in caredesk (portal forms
and sign-in, help-centre search and suggestions, chat floods, API token guessing, surveys)."""

from __future__ import annotations

import hashlib

from django.core.cache import cache

from caredesk.core.errors import DomainError


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds, sent as Retry-After when known


def _rate_key(scope: str, key: str) -> str:
    return f"caredesk:rl:{scope}:{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def count_attempts(scope: str, attempts: dict[str, int], *, window_seconds: int) -> dict[str, int]:
    """Count several attempts for several keys at once (a batch of chat lines): each key's count
    after adding its attempts, on the same counters as `hit_rate_limit`. With Redis, one round
    trip for the whole batch instead of three an attempt."""
    from django.core.cache.backends.redis import RedisCache

    keys = {name: _rate_key(scope, name) for name in attempts}
    if isinstance(cache, RedisCache):
        stored = {name: cache.make_and_validate_key(k) for name, k in keys.items()}
        client = cache._cache.get_client(None, write=True)
        pipeline = client.pipeline()
        for name, key in stored.items():
            pipeline.set(key, 0, ex=window_seconds, nx=True)  # as `cache.add`: a new window
            pipeline.incrby(key, attempts[name])
        replies = pipeline.execute()
        return {name: int(replies[2 * i + 1]) for i, name in enumerate(stored)}
    counts = {}
    for name, key in keys.items():
        cache.add(key, 0, window_seconds)
        try:
            counts[name] = cache.incr(key, attempts[name])
        except ValueError:
            cache.set(key, attempts[name], window_seconds)
            counts[name] = attempts[name]
    return counts


def hit_rate_limit(scope: str, key: str, *, limit: int, window_seconds: int) -> None:
    """Count one attempt; raise RateLimited past the limit. Shared cache, so it holds across processes."""
    cache_key = _rate_key(scope, key)
    cache.add(cache_key, 0, window_seconds)
    try:
        count = cache.incr(cache_key)
    except ValueError:
        cache.set(cache_key, 1, window_seconds)
        count = 1
    if count > limit:
        raise RateLimited("Too many attempts. Please wait a few minutes and try again.")
