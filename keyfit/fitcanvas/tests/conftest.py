import pytest

from keyfit.fitcanvas.tests.factories import ensure_default_template


@pytest.fixture(autouse=True)
def _fit_default_template(request):
    marker = request.node.get_closest_marker("django_db")
    if marker and marker.kwargs.get("transaction"):
        request.getfixturevalue("transactional_db")
        ensure_default_template()


@pytest.fixture(autouse=True)
def _clear_rate_limits():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
