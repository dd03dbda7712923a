from django.urls import NoReverseMatch, reverse

from keyfit.core.nav import nav_items


def navigation(request):
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {"nav": []}
    items = []
    path = request.path
    for item in nav_items():
        if item.roles and user.role not in item.roles and not user.is_superuser:
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        items.append({"key": item.key, "label": item.label, "url": url, "active": path.startswith(url) and url != "/"})
    return {"nav": items}
