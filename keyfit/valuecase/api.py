from ninja import Router

router = Router(tags=["Value cases"])
