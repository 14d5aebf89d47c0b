"""The web portal: pages for scientists in a browser, served by the firecrest service at its base URL.

The pages are thin: a handler renders a Jinja2 template (templates/portal/) with who is logged in and
where the API is, and the page's script (static/portal/js/) does the work through the REST API with the
browser's hub session and the XSRF token, so that every file, job and staging operation is the API's own.
"""

from .pages import Portal, routes, unknown_page_route

__all__ = ["Portal", "routes", "unknown_page_route"]
