"""URLs of the account pages (accounts.pages), mounted at the site's root beside the board's."""

from django.urls import path

from accounts import pages

app_name = "account"

urlpatterns = [
    path("signup/", pages.signup_page, name="signup"),
    path("password/reset/", pages.password_reset_page, name="password-reset"),
    path("password/reset/sent/", pages.password_reset_sent_page, name="password-reset-sent"),
    path("password/reset/<str:uidb64>/<str:token>/", pages.password_reset_confirm_page, name="password-reset-confirm"),
    path("profile/", pages.profile_page, name="profile"),
]
