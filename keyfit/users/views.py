from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from keyfit.core.errors import DomainError, RateLimited
from keyfit.core.permissions import is_admin
from keyfit.core.roles import Role
from keyfit.core.securelinks import client_address
from keyfit.users import selectors, services
from keyfit.users.forms import (
    LoginForm,
    ProfileForm,
    TeamForm,
    TokenCreateForm,
    UserAdminForm,
    UserCreateForm,
)
from keyfit.users.models import User


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def _set_language_cookie(response, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def login_view(request):
    if request.user.is_authenticated:
        return redirect(_safe_next(request, "/"))
    form = LoginForm(request, data=request.POST or None)
    status = 200
    if request.method == "POST":
        email = (request.POST.get("email") or "").strip().lower()
        client = client_address(request)
        try:
            services.login_check_allowed(email=email, client=client)
            if form.is_valid():
                services.login_record_success(email=email, client=client)
                login(request, form.user)
                response = HttpResponseRedirect(_safe_next(request, "/"))
                _set_language_cookie(response, form.user.language)
                return response
            services.login_record_failure(email=email, client=client)
            status = 400
        except RateLimited as exc:
            form.add_error(None, exc.message)
            status = 429
    return render(request, "users/login.html", {"form": form, "next": _safe_next(request, "")}, status=status)


@require_POST
def logout_view(request):
    logout(request)
    return redirect("users:login")


@require_POST
def set_language(request):
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    if request.user.is_authenticated and request.user.language != language:
        User.objects.filter(pk=request.user.pk).update(language=language)
    translation.activate(language)
    response = HttpResponseRedirect(_safe_next(request, "/"))
    _set_language_cookie(response, language)
    return response


@login_required
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.user_update(user=request.user, actor=request.user, **form.cleaned_data)
        translation.activate(request.user.language)
        messages.success(request, _("Profile saved."))
        response = redirect("users:profile")
        _set_language_cookie(response, request.user.language)
        return response
    tokens = request.user.api_tokens.filter(revoked_at__isnull=True)
    return render(request, "users/profile.html", {"form": form, "tokens": tokens, "token_form": TokenCreateForm()})


@login_required
@require_POST
def token_create(request):
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the token a name."))
        return redirect("users:profile")
    token, raw = services.api_token_create(user=request.user, name=form.cleaned_data["name"])
    return render(request, "users/token_created.html", {"token": token, "raw": raw})


@login_required
@require_POST
def token_revoke(request, token_id: int):
    try:
        services.api_token_revoke(user=request.user, token_id=token_id)
    except DomainError:
        from django.http import Http404

        raise Http404() from None
    messages.success(request, _("Token revoked."))
    return redirect("users:profile")


def _require_team_admin(user) -> None:
    if not (is_admin(user) or user.role == Role.MANAGER):
        from django.http import Http404

        raise Http404()


@login_required
def team_list(request):
    _require_team_admin(request.user)
    return render(
        request,
        "users/team_list.html",
        {
            "teams": selectors.team_tree(),
            "users": selectors.user_list(request.user),
            "is_admin": is_admin(request.user),
        },
    )


@login_required
def user_edit(request, user_id: int):
    if not is_admin(request.user):
        raise PermissionDenied
    target = get_object_or_404(User, pk=user_id)
    form = UserAdminForm(request.POST or None, instance=target)
    if request.method == "POST" and form.is_valid():
        services.user_update(user=target, actor=request.user, **form.cleaned_data)
        messages.success(request, _("User saved."))
        return redirect("users:team_list")
    return render(request, "users/form.html", {"form": form, "title": target.display_name})


@login_required
def user_create(request):
    if not is_admin(request.user):
        raise PermissionDenied
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        password = data.pop("password")
        services.user_create(actor=request.user, password=password, **data)
        messages.success(request, _("User created."))
        return redirect("users:team_list")
    return render(request, "users/form.html", {"form": form, "title": _("New user")})


@login_required
def team_create(request):
    if not is_admin(request.user):
        raise PermissionDenied
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.team_create(actor=request.user, **form.cleaned_data)
        messages.success(request, _("Team created."))
        return redirect("users:team_list")
    return render(request, "users/form.html", {"form": form, "title": _("New team")})


@login_required
def team_edit(request, team_id: int):
    if not is_admin(request.user):
        raise PermissionDenied
    team = get_object_or_404(selectors.Team, pk=team_id)
    form = TeamForm(request.POST or None, instance=team)
    if request.method == "POST" and form.is_valid():
        services.team_update(team=team, actor=request.user, **form.cleaned_data)
        messages.success(request, _("Team saved."))
        return redirect("users:team_list")
    return render(request, "users/form.html", {"form": form, "title": team.name})
