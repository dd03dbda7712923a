"""Rows that every request reads and that change rarely, kept in each process under a version token.

The token lives in the shared cache: a read is one cache get and no query while the token is the one the
rows were kept under. `forget()` (connected to the rows' save and delete signals) sets a new token at once
and again after the commit, so that a process that reloaded in between cannot keep the old rows; the token
expires after `ttl` seconds in any case, a bound for a change that sent no signal (a queryset .update()).
"""

import uuid
from typing import Any

from django.core.cache import cache
from django.db import transaction


class KeptByToken:
    def __init__(self, key: str, ttl: int) -> None:
        self.key = key  # the token's key in the shared cache
        self.ttl = ttl  # seconds
        self._memo: tuple[str, Any] | None = None  # (token, value) of this process

    def get(self) -> tuple[str | None, Any]:
        """(current token, the value kept under it or None when there is none)."""
        token = cache.get(self.key)
        memo = self._memo
        if token is not None and memo is not None and memo[0] == token:
            return token, memo[1]
        return token, None

    def keep(self, token: str | None, value: Any) -> None:
        """Keep `value`, read after `get()` answered `token`."""
        if token is None:
            token = uuid.uuid4().hex
            # If another process set a token meanwhile (perhaps after a change these rows may not show),
            # ours does not match it and the next read loads again.
            cache.add(self.key, token, self.ttl)
        self._memo = (token, value)

    def forget(self, **kwargs) -> None:
        """A new token: every process reads the rows again on its next use (a signal receiver)."""
        self._memo = None
        cache.set(self.key, uuid.uuid4().hex, self.ttl)
        transaction.on_commit(lambda: cache.set(self.key, uuid.uuid4().hex, self.ttl), robust=True)
