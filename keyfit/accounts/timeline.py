"""Extension point of the account page: other apps add panels (pipeline activities, plans…).

An app registers, in its AppConfig.ready()::

    from keyfit.accounts.timeline import register_account_panel

    def opportunities_panel(request, account):
        return {"title": _("Activities"), "template": "pipeline/_account_activities.html",
                "context": {"activities": activities_for_account(request.user, account)}}

    register_account_panel("pipeline.activities", opportunities_panel, order=20)

A provider returns ``None`` to show nothing. Panels appear beside the audit timeline, in ``order``; the
panel's template is included with ``account`` and ``panel`` (so it reads ``panel.context.activities``).
Providers must read through their own app's selectors (scoped to ``request.user``) and keep a bounded
number of queries.
"""

from keyfit.core.panels import PanelRegistry

_registry = PanelRegistry()
register_account_panel = _registry.register
account_panels = _registry.collect
unregister_account_panel = _registry.unregister
