"""Flask's signed-cookie sessions, without their per-request set-up where there is no cookie.

Only the admin pages and the OAuth install use a session; card views, workflow actions and
webhooks never send its cookie. Flask builds the cookie's signing serializer on every request
before it looks for the cookie; here a request without the cookie gets the empty session Flask
would give it, without building a serializer only to throw it away. A session written in such a
request (the install's OAuth state) is saved by Flask's own ``save_session``, as before."""
from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface


class CookieSessions(SecureCookieSessionInterface):
    def open_session(self, app, request):
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)
