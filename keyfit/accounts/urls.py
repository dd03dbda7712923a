from django.urls import path

from keyfit.accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.account_list, name="account_list"),
    path("new/", views.account_create, name="account_create"),
    path("<int:pk>/", views.account_detail, name="account_detail"),
    path("<int:pk>/edit/", views.account_edit, name="account_edit"),
    path("<int:pk>/delete/", views.account_delete, name="account_delete"),
    path("<int:pk>/org-chart/", views.account_org_chart, name="account_org_chart"),
    path("<int:account_pk>/contacts/new/", views.contact_create, name="contact_create"),
    path("contacts/", views.contact_list, name="contact_list"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact_detail"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/delete/", views.contact_delete, name="contact_delete"),
    path("views/<slug:list_key>/save/", views.saved_view_save, name="saved_view_save"),
    path("views/<slug:list_key>/<int:view_id>/delete/", views.saved_view_delete, name="saved_view_delete"),
    path("custom-fields/", views.custom_field_list, name="custom_field_list"),
    path("custom-fields/new/", views.custom_field_edit, name="custom_field_create"),
    path("custom-fields/<int:pk>/", views.custom_field_edit, name="custom_field_edit"),
]
