from django.urls import path
from rest_framework.routers import SimpleRouter

from tickets import apis, data_apis

router = SimpleRouter()
router.register("projects", apis.ProjectViewSet, basename="project")
router.register("tickets", apis.TicketViewSet, basename="ticket")

members = apis.MemberViewSet.as_view({"get": "list", "post": "create"})
member = apis.MemberViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})
comments = apis.CommentViewSet.as_view({"get": "list", "post": "create"})
images = apis.ImageViewSet.as_view({"get": "list", "post": "create"})
image = apis.ImageViewSet.as_view({"get": "retrieve", "delete": "destroy"})
imports = data_apis.TicketImportViewSet.as_view({"post": "create"})
ticket_import = data_apis.TicketImportViewSet.as_view({"get": "retrieve"})
invitations = apis.InvitationViewSet.as_view({"get": "list"})
invitation = apis.InvitationViewSet.as_view({"delete": "destroy"})
comment = apis.CommentViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"})

urlpatterns = [
    # Before the router's `tickets/<ticket>/`, which would read `export` or `bulk` as a ticket key.
    path("tickets/export/", data_apis.TicketExportApi.as_view(), name="ticket-export"),
    path("tickets/bulk/", data_apis.TicketBulkApi.as_view(), name="ticket-bulk"),
    *router.urls,
    path("projects/<str:project>/members/", members, name="project-members"),
    path("projects/<str:project>/members/<uuid:user_id>/", member, name="project-member"),
    path("projects/<str:project>/invitations/", invitations, name="project-invitations"),
    path("projects/<str:project>/invitations/<str:invitation_id>/", invitation, name="project-invitation"),
    path("projects/<str:project>/imports/", imports, name="project-imports"),
    path("projects/<str:project>/imports/<uuid:import_id>/", ticket_import, name="project-import"),
    path("tickets/<str:ticket>/comments/", comments, name="ticket-comments"),
    path("tickets/<str:ticket>/comments/<uuid:comment_id>/", comment, name="ticket-comment"),
    path("tickets/<str:ticket>/images/", images, name="ticket-images"),
    path("tickets/<str:ticket>/images/<uuid:image_id>/", image, name="ticket-image"),
]
