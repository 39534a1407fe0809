"""The board's pages: session login and logout, the project list, a project's board and its fragments, its members."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.pages import ThrottledLoginView
from board import views

app_name = "board"

urlpatterns = [
    path(
        "login/",
        ThrottledLoginView.as_view(template_name="board/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("board/", views.project_list_page, name="projects"),
    path("board/<str:project_key>/", views.board_page, name="board"),
    path("board/<str:project_key>/members/", views.members_page, name="members"),
    path("board/<str:project_key>/columns/<str:status>/", views.column_page, name="column"),
    path("board/<str:project_key>/cards/<str:ticket_key>/", views.card_fragment, name="card"),
    path("board/<str:project_key>/tickets/<str:ticket_key>/", views.ticket_page, name="ticket"),
    path("board/<str:project_key>/tickets/<str:ticket_key>/panel/", views.ticket_panel, name="ticket-panel"),
]
