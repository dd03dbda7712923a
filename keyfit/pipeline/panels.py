"""Extension point of the opportunity page: other apps add panels (value case, plans…).

An app registers, in its AppConfig.ready()::

    from keyfit.pipeline.panels import register_opportunity_panel

    def value_panel(request, opportunity):
        return {"template": "valuecase/_opportunity_panel.html", "context": {...}}

    register_opportunity_panel("valuecase.value", value_panel, order=10)

A provider returns ``None`` to show nothing. Its template is rendered in the page's side column with
``opp`` and ``panel`` (read ``panel.context``). The page loads each panel by its own request once it is
shown (htmx, ``pipeline:panel``), so a panel's queries do not hold up the page; without JavaScript a
link opens it. Providers read through their own app's selectors, scoped
to ``request.user``, with a bounded number of queries.
"""

from keyfit.core.panels import PanelRegistry

_registry = PanelRegistry()
register_opportunity_panel = _registry.register
opportunity_panels = _registry.collect
opportunity_panel_keys = _registry.keys
opportunity_panel = _registry.one
