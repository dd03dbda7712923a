import pytest

from keyfit.core.pagination import decode_cursor, encode_cursor, keyset_page
from keyfit.users.models import Team


@pytest.mark.django_db
@pytest.mark.parametrize(
    "order",
    [("name", "id"), ("-name", "-id"), ("-created_at", "-id"), ("created_at", "id"), ("-created_at", "id")],
)
def test_walking_every_page_returns_every_row_once_in_order(order):
    """Same-direction orders use one row comparison, mixed ones the spelled-out form; ties on the leading
    column (three teams share a timestamp with microseconds) continue by id either way."""
    import datetime

    names = ["b", "a", "c", "a", "b", "d", "a", "e"]
    for i, name in enumerate(names):
        Team.objects.create(name=f"{name}-{i % 3}-{i}")
    Team.objects.create(name="b-0-dup-x")
    tie = datetime.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=datetime.UTC)
    Team.objects.filter(pk__in=list(Team.objects.order_by("id").values_list("id", flat=True)[2:5])).update(
        created_at=tie
    )
    expected = list(Team.objects.order_by(*order).values_list("id", flat=True))
    seen, cursor = [], None
    while True:
        page = keyset_page(Team.objects.all(), order=order, cursor=cursor, limit=2)
        seen.extend(t.id for t in page.items)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == expected


def test_cursor_round_trip_and_bad_cursor():
    import datetime
    from decimal import Decimal

    from keyfit.core.errors import ValidationFailed

    values = [datetime.datetime(2026, 1, 2, 3, 4, tzinfo=datetime.UTC), Decimal("1.50"), "名", 7]
    assert decode_cursor(encode_cursor(values), 4) == values
    with pytest.raises(ValidationFailed):
        decode_cursor("not-a-cursor", 2)
    with pytest.raises(ValidationFailed):
        decode_cursor(encode_cursor([1]), 2)
