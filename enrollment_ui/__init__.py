"""Web pages (Jinja + htmx) for HR clerks and merchant counters, in Arabic, French and English.

The composition root mounts them with :func:`enrollment_ui.routes.create_router` and
:func:`enrollment_ui.web.install_error_pages`.
"""
