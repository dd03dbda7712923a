from django.urls import path

from keyfit.core import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("blank/", views.blank, name="blank"),
    path("healthz", views.healthz, name="healthz"),
]
