from ninja import Router

router = Router(tags=["Triple Fit Canvas"])
