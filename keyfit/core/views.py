from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "core/home.html", {})


@login_required
def blank(request):
    """The application layout with no content: the baseline page of the benchmarks."""
    return render(request, "core/blank.html", {})


def healthz(request):
    from django.db import connection
    from django.http import JsonResponse

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
