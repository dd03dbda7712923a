from django.urls import path

from keyfit.imports import views

app_name = "imports"
urlpatterns = [
    path("", views.index, name="index"),
    path("<int:job_id>/", views.detail, name="detail"),
    path("<int:job_id>/map/", views.map_columns, name="map"),
    path("<int:job_id>/cancel/", views.cancel, name="cancel"),
    path("<int:job_id>/resume/", views.resume, name="resume"),
    path("<int:job_id>/run/", views.run_for_real, name="run"),
    path("<int:job_id>/rejected.csv", views.rejected_file, name="rejected"),
    path("<int:job_id>/result", views.result_file, name="result"),
    path("export/<str:kind>/", views.export, name="export"),
]
