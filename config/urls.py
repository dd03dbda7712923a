from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("keyfit.users.urls")),
    path("accounts/", include("keyfit.accounts.urls")),
    path("pipeline/", include("keyfit.pipeline.urls")),
    path("leads/", include("keyfit.leads.urls")),
    path("value-cases/", include("keyfit.valuecase.urls")),
    path("fit/", include("keyfit.fitcanvas.urls")),
    path("plans/", include("keyfit.plans.urls")),
    path("scoring/", include("keyfit.scoring.urls")),
    path("analytics/", include("keyfit.analytics.urls")),
    path("imports/", include("keyfit.imports.urls")),
    path("", include("keyfit.core.urls")),
]

admin.site.site_header = "keyfit"
admin.site.site_title = "keyfit"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
