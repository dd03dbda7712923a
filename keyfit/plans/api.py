from ninja import Router

router = Router(tags=["Joint account plans"])
