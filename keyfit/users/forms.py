import zoneinfo

from django import forms
from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _

from keyfit.core.roles import Role
from keyfit.users.models import Team, User

TIMEZONE_CHOICES = [(tz, tz) for tz in sorted(zoneinfo.available_timezones()) if "/" in tz and not tz.startswith("Etc")]


class LoginForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, request=None, *args, **kwargs):
        self.request = request
        self.user = None
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        email, password = data.get("email"), data.get("password")
        if email and password:
            self.user = authenticate(self.request, email=email.lower(), password=password)
            if self.user is None or not self.user.is_active:
                raise forms.ValidationError(_("E-mail or password is not correct."), code="invalid_login")
        return data


class ProfileForm(forms.ModelForm):
    timezone = forms.ChoiceField(label=_("Time zone"), choices=TIMEZONE_CHOICES)

    class Meta:
        model = User
        fields = ["full_name", "language", "timezone"]


class UserAdminForm(forms.ModelForm):
    """What an admin may change about a user in the app."""

    class Meta:
        model = User
        fields = ["full_name", "role", "team", "is_active"]


class UserCreateForm(forms.ModelForm):
    password = forms.CharField(label=_("Initial password"), widget=forms.PasswordInput, min_length=10)

    class Meta:
        model = User
        fields = ["email", "full_name", "role", "team", "language"]

    def clean_email(self):
        return self.cleaned_data["email"].lower()


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "parent", "manager", "timezone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["manager"].queryset = User.objects.filter(role__in=[Role.MANAGER, Role.ADMIN], is_active=True)


class TokenCreateForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100)
