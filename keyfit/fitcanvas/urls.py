from django.urls import path

from keyfit.fitcanvas import views

app_name = "fitcanvas"
urlpatterns = [
    path("", views.wave_list, name="waves"),
    path("waves/<int:wave_id>/", views.wave_detail, name="wave"),
    path("waves/<int:wave_id>/answer/", views.answer, name="answer"),
    path("waves/<int:wave_id>/export.xlsx", views.wave_export, name="export"),
    path("waves/<int:wave_id>/<slug:action>/", views.wave_action, name="wave_action"),
    path("templates/", views.template_list, name="templates"),
    path("templates/<int:template_id>/", views.template_detail, name="template"),
    path("r/<str:token>/", views.respond, name="respond"),
]
