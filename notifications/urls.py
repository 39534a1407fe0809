from django.urls import path

from notifications import apis

notifications = apis.NotificationViewSet.as_view({"get": "list"})
unread_count = apis.NotificationViewSet.as_view({"get": "unread_count"})
read_all = apis.NotificationViewSet.as_view({"post": "read_all"})
read = apis.NotificationViewSet.as_view({"post": "read"})

urlpatterns = [
    path("notifications/", notifications, name="notifications"),
    path("notifications/unread-count/", unread_count, name="notifications-unread-count"),
    path("notifications/read-all/", read_all, name="notifications-read-all"),
    path("notifications/<str:notification_id>/read/", read, name="notification-read"),
]
