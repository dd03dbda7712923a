app_name = "valuecase"
urlpatterns: list = []
