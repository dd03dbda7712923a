from django.urls import path

from keyfit.valuecase import views

app_name = "valuecase"
urlpatterns = [
    path("", views.case_list, name="list"),
    path("opportunity/<int:opportunity_id>/", views.opportunity_case, name="opportunity"),
    path("<int:pk>/", views.case_detail, name="detail"),
    path("<int:pk>/settings/", views.case_settings, name="settings"),
    path("<int:pk>/<str:kind>/add/", views.line_add, name="line_add"),
    path("<int:pk>/<str:kind>/<int:line_id>/delete/", views.line_delete, name="line_delete"),
    path("<int:pk>/send/", views.case_send, name="send"),
    path("<int:pk>/revoke/", views.case_revoke, name="revoke"),
    path("<int:pk>/close/", views.case_close, name="close"),
    path("<int:pk>/realised/", views.realisation_add, name="realised"),
    path("<int:pk>/print/", views.case_print, name="print"),
    path("<int:pk>/export.xlsx", views.case_export, name="export"),
    path("<int:pk>/customer/<str:token>/", views.customer_page, name="customer"),
]
