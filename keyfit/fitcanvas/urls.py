app_name = "fitcanvas"
urlpatterns: list = []
