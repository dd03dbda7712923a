from ninja import Router

router = Router(tags=["Accounts and contacts"])
