from django.urls import path

from keyfit.leads import views

app_name = "leads"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("new/", views.lead_new, name="new"),
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("<int:pk>/screen1/", views.lead_screen1, name="screen1"),
    path("<int:pk>/screen2/", views.lead_screen2, name="screen2"),
    path("<int:pk>/signals/", views.lead_signal, name="signal"),
    path("<int:pk>/convert/", views.lead_convert, name="convert"),
    path("<int:pk>/disqualify/", views.lead_disqualify, name="disqualify"),
    path("<int:pk>/touch/", views.lead_touch, name="touch"),
    path("<int:pk>/reassign/", views.lead_reassign, name="reassign"),
    path("<int:pk>/merge/", views.lead_merge, name="merge"),
    path("f/<slug:slug>/", views.web_form, name="web_form"),
    path("f/<slug:slug>/thanks/", views.web_form_thanks, name="web_form_thanks"),
]
