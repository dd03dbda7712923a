from ninja import Router

router = Router(tags=["Import and export"])
