"""The web console at ``/console``: server-rendered pages (Jinja2) for content editors, agents and admins.

``site.install(app)`` adds it to the HTTP app; ``web`` has what every page shares (the signed-in user, CSRF,
rendering); ``sessions`` the sign-ins; ``i18n`` the console's words; one module per page. Pages call the API's own
functions and the domain packages with the session's ``Caller``: never a second implementation.
"""
