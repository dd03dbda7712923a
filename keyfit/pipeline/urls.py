from django.urls import path

from keyfit.pipeline import views

app_name = "pipeline"
urlpatterns = [
    path("", views.board, name="board"),
    path("board/<slug:stage_code>/", views.board_column, name="board_column"),
    path("opportunities/", views.opportunity_list, name="list"),
    path("opportunities/new/", views.opportunity_create, name="create"),
    path("opportunities/views/", views.saved_view_create, name="view_create"),
    path("opportunities/views/<int:pk>/delete/", views.saved_view_delete, name="view_delete"),
    path("opportunities/<int:pk>/", views.opportunity_detail, name="detail"),
    path("opportunities/<int:pk>/panels/<str:key>/", views.opportunity_panel, name="panel"),
    path("opportunities/<int:pk>/timeline/", views.opportunity_timeline, name="timeline"),
    path("opportunities/<int:pk>/edit/", views.opportunity_edit, name="edit"),
    path("opportunities/<int:pk>/move/", views.opportunity_move, name="move"),
    path("opportunities/<int:pk>/won/", views.opportunity_won, name="won"),
    path("opportunities/<int:pk>/lost/", views.opportunity_lost, name="lost"),
    path("opportunities/<int:pk>/contacts/", views.deal_contact, name="deal_contact"),
    path("opportunities/<int:pk>/activities/new/", views.activity_create, name="activity_create"),
    path("answers/<int:pk>/use/", views.answer_use, name="answer_use"),
    path("activities/mine/", views.my_activities, name="my_activities"),
    path("activities/<int:pk>/done/", views.activity_done, name="activity_done"),
    path("activities/<int:pk>/edit/", views.activity_edit, name="activity_edit"),
    path("activities/<int:pk>/delete/", views.activity_delete, name="activity_delete"),
    path("settings/gates/", views.gate_settings, name="gates"),
]
