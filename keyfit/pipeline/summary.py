"""The board's column totals, maintained instead of computed (see models.BoardSummary).

Every save and delete of an Opportunity through the ORM (services, factories, other apps) moves its
(stage, team, owner, currency, forecast category, amount) contribution from the key the row held (read from the database just
before) to its new one, inside the same transaction. Queryset .update()/bulk loads bypass this: run rebuild_board_summary() after them.

Every change of the summary also sets a new version token in the shared cache (at once and again after the
commit), so that totals computed from it can be kept per process until it changes (selectors.board_totals).
"""

import uuid
from decimal import Decimal

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, F, Sum
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

KEY_FIELDS = ("stage_id", "team_id", "owner_id", "currency", "forecast_category", "amount")
WATCHED = {"stage", "team", "owner", *KEY_FIELDS}
_OLD = "_board_summary_old"
VERSION_KEY = "pipeline:board-summary:version"
VERSION_TTL = 300  # seconds: totals kept per process are recomputed at least this often


def summary_version() -> str:
    """The summary's current version token (read it before reading the summary)."""
    token = cache.get(VERSION_KEY)
    if token is None:
        token = uuid.uuid4().hex
        # If another process set one meanwhile (after a change), ours does not match it: totals kept under
        # ours are recomputed on the next read.
        cache.add(VERSION_KEY, token, VERSION_TTL)
    return token


def summary_changed() -> None:
    """A new version token: totals kept by any process are recomputed (at once and after the commit, so that
    totals computed meanwhile from the rows before the commit are not kept)."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, VERSION_TTL)
    transaction.on_commit(lambda: cache.set(VERSION_KEY, uuid.uuid4().hex, VERSION_TTL), robust=True)


def _stored_key(pk):
    from keyfit.pipeline.models import Opportunity

    return Opportunity.objects.filter(pk=pk).values_list(*KEY_FIELDS).first()


def _apply(key, sign: int) -> None:
    from keyfit.pipeline.models import BoardSummary

    stage_id, team_id, owner_id, currency, forecast, amount = key
    if stage_id is None or owner_id is None:
        return
    amount = Decimal(str(amount)) if amount is not None else Decimal("0")
    priced = 1 if key[5] is not None else 0
    row = (
        BoardSummary.objects.select_for_update()
        .filter(stage_id=stage_id, team_id=team_id, owner_id=owner_id, currency=currency, forecast_category=forecast)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    if row is None:
        BoardSummary.objects.create(
            stage_id=stage_id,
            team_id=team_id,
            owner_id=owner_id,
            currency=currency,
            forecast_category=forecast,
            count=sign,
            priced=sign * priced,
            amount=sign * amount,
        )
    else:
        BoardSummary.objects.filter(pk=row).update(
            count=F("count") + sign, priced=F("priced") + sign * priced, amount=F("amount") + sign * amount
        )


def _before_save(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    if raw or (update_fields is not None and not set(update_fields) & WATCHED):
        setattr(instance, _OLD, False)  # nothing the summary counts changes
        return
    # What the row holds now, read from the database (an in-memory copy may be stale).
    setattr(instance, _OLD, None if instance._state.adding or instance.pk is None else _stored_key(instance.pk))


def _saved(sender, instance, created, **kwargs) -> None:
    old = getattr(instance, _OLD, None)
    if old is False:
        return
    new = tuple(getattr(instance, name) for name in KEY_FIELDS)
    if old is not None and tuple(old) == new:
        return
    with transaction.atomic():
        if old is not None:
            _apply(tuple(old), -1)
        _apply(new, +1)
    summary_changed()


def _before_delete(sender, instance, **kwargs) -> None:
    setattr(instance, _OLD, _stored_key(instance.pk))


def _deleted(sender, instance, **kwargs) -> None:
    old = getattr(instance, _OLD, None)
    if old is not None:
        with transaction.atomic():
            _apply(tuple(old), -1)
        summary_changed()


def rebuild_board_summary() -> int:
    """Recompute the whole summary from the opportunities (one grouped scan); returns the number of rows."""
    from keyfit.pipeline.models import BoardSummary, Opportunity

    rows = (
        Opportunity.objects.values("stage_id", "team_id", "owner_id", "currency", "forecast_category")
        .annotate(n=Count("id"), priced=Count("amount"), total=Sum("amount"))
        .order_by()
    )
    with transaction.atomic():
        BoardSummary.objects.all().delete()
        BoardSummary.objects.bulk_create(
            BoardSummary(
                stage_id=r["stage_id"],
                team_id=r["team_id"],
                owner_id=r["owner_id"],
                currency=r["currency"],
                forecast_category=r["forecast_category"],
                count=r["n"],
                priced=r["priced"],
                amount=r["total"] or Decimal("0"),
            )
            for r in rows
        )
        summary_changed()
    return BoardSummary.objects.count()


def connect() -> None:
    from keyfit.pipeline.models import Opportunity

    pre_save.connect(_before_save, sender=Opportunity, dispatch_uid="board-summary-before-save")
    pre_delete.connect(_before_delete, sender=Opportunity, dispatch_uid="board-summary-before-delete")
    post_save.connect(_saved, sender=Opportunity, dispatch_uid="board-summary-save")
    post_delete.connect(_deleted, sender=Opportunity, dispatch_uid="board-summary-delete")
