"""The session login page, counted against the same throttles as `POST /api/v1/auth/login/`.

Django's LoginView has no limit of its own: without these counters the page would be a way around the
API's per-address and per-email limits on password guessing. The counters are the API's (same scopes,
same rates), so guesses through the page and through the API add up.
"""

import math
from types import SimpleNamespace
from typing import Any

from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse

from accounts.throttles import LoginEmailThrottle, LoginIPThrottle


class ThrottledLoginView(LoginView):
    template_name = "board/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The throttles read the client's address from META and headers, the email from `data`, as on the API.
        attempt: Any = SimpleNamespace(
            META=request.META, headers=request.headers, data={"email": request.POST.get("username", "")}
        )
        for throttle in (LoginIPThrottle(), LoginEmailThrottle()):
            if not throttle.allow_request(attempt, self):
                wait = math.ceil(throttle.wait() or 1)
                context = self.get_context_data(form=self.get_form(), retry_after=wait)
                response = self.render_to_response(context, status=429)
                response["Retry-After"] = str(wait)
                return response
        return super().post(request, *args, **kwargs)
