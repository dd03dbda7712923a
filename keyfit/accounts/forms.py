"""Forms only parse input; the rules are in services.py. Service errors are mapped back onto fields."""

import json
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from keyfit.accounts.models import Account, Contact
from keyfit.core.customfields import custom_form_fields, custom_values_from_form
from keyfit.core.errors import ValidationFailed
from keyfit.core.models import CustomFieldDefinition
from keyfit.core.money import currency_choices
from keyfit.users.models import Team

ACCOUNT_FORM_FIELDS = [
    "name",
    "legal_name",
    "website",
    "domain",
    "industry",
    "size_band",
    "employees",
    "annual_revenue",
    "currency",
    "country",
    "region",
    "city",
    "tier",
    "lifecycle",
    "external_id",
]
CONTACT_FORM_FIELDS = [
    "name",
    "title",
    "department",
    "email",
    "phone",
    "wechat_id",
    "seniority",
    "buying_role",
    "relationship_strength",
    "motivations",
    "personal_kpis",
    "language",
    "external_id",
]


class _ServiceForm(forms.Form):
    """A form whose values go to a service; `apply_errors` shows the service's field errors."""

    target = ""
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, custom_initial: dict[str, Any] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(custom_form_fields(self.target, initial=custom_initial or {}))

    def custom_field_names(self) -> list[str]:
        return [name for name in self.fields if name.startswith("cf_")]

    def service_fields(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith("cf_") and k != "version"}
        for key, value in list(data.items()):
            if value is None and key in self.blank_text_fields:
                data[key] = ""
        data["custom_fields"] = {
            k: (v.isoformat() if hasattr(v, "isoformat") else v)
            for k, v in custom_values_from_form(self.cleaned_data).items()
        }
        return data

    blank_text_fields: set[str] = set()

    def apply_errors(self, error: ValidationFailed) -> None:
        for key, messages in error.fields.items():
            name = key
            if key.startswith("custom_fields."):
                name = "cf_" + key.split(".", 1)[1]
            elif key.endswith("_id") and key[:-3] in self.fields:
                name = key[:-3]
            for message in messages:
                self.add_error(name if name in self.fields else None, message)


def _model_fields(model, names: list[str]) -> dict[str, forms.Field]:
    fields = forms.fields_for_model(model, fields=names)
    for field in fields.values():
        # Length, format and uniqueness are checked by the service (one rule set for every caller);
        # the form only parses values.
        field.validators = []
        if hasattr(field, "max_length"):
            field.max_length = None
            field.widget.attrs.pop("maxlength", None)
    return fields


class AccountForm(_ServiceForm):
    target = "account"
    blank_text_fields = {"legal_name", "website", "domain", "region", "city", "country", "industry", "size_band"}

    def __init__(self, *args, actor=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        base = _model_fields(Account, ACCOUNT_FORM_FIELDS)
        base["website"] = forms.CharField(label=Account._meta.get_field("website").verbose_name, required=False)
        base["currency"] = forms.ChoiceField(label=_("currency"), choices=currency_choices(), initial="CNY")
        base["owner"] = forms.ModelChoiceField(
            label=_("owner"),
            queryset=get_user_model().objects.filter(is_active=True).order_by("full_name"),
            required=False,
            help_text=_("Empty: you."),
        )
        base["team"] = forms.ModelChoiceField(
            label=_("team"),
            queryset=Team.objects.order_by("name"),
            required=False,
            help_text=_("Empty: the owner's team."),
        )
        base["parent"] = forms.IntegerField(
            label=_("parent account (id)"), required=False, help_text=_("The number in the parent account's address.")
        )
        custom = {k: v for k, v in self.fields.items() if k.startswith("cf_")}
        self.fields = {"version": self.fields["version"], **base, **custom}

    def service_fields(self) -> dict[str, Any]:
        data = super().service_fields()
        data["parent_id"] = data.pop("parent", None)
        if data.get("owner") is None:
            data.pop("owner", None)
        if data.get("team") is None and "owner" not in data:
            data.pop("team", None)
        return data


class ContactForm(_ServiceForm):
    target = "contact"
    blank_text_fields = {"title", "department", "email", "phone", "wechat_id", "seniority", "buying_role"}

    def __init__(self, *args, account: Account, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        base = _model_fields(Contact, CONTACT_FORM_FIELDS)
        base["email"] = forms.CharField(label=_("e-mail"), required=False)
        base["reports_to"] = forms.ModelChoiceField(
            label=_("reports to"),
            queryset=account.contacts.order_by("name"),
            required=False,
        )
        custom = {k: v for k, v in self.fields.items() if k.startswith("cf_")}
        self.fields = {"version": self.fields["version"], **base, **custom}


def account_initial(account: Account) -> dict[str, Any]:
    data = {name: getattr(account, name) for name in ACCOUNT_FORM_FIELDS}
    data.update(owner=account.owner_id, team=account.team_id, parent=account.parent_id, version=account.version)
    return data


def contact_initial(contact: Contact) -> dict[str, Any]:
    data = {name: getattr(contact, name) for name in CONTACT_FORM_FIELDS}
    data.update(reports_to=contact.reports_to_id, version=contact.version)
    return data


class CustomFieldForm(forms.ModelForm):
    choices_text = forms.CharField(
        label=_("choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("For choice fields, one per line: value | English label | 中文标签"),
    )

    class Meta:
        model = CustomFieldDefinition
        fields = [
            "target",
            "key",
            "label_en",
            "label_zh_hans",
            "field_type",
            "required",
            "max_length",
            "position",
            "active",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [
            c for c in CustomFieldDefinition.Target.choices if c[0] in ("account", "contact")
        ] + [c for c in CustomFieldDefinition.Target.choices if c[0] not in ("account", "contact")]
        if self.instance.pk:
            self.fields["choices_text"].initial = "\n".join(
                " | ".join([str(c.get("value", "")), c.get("label_en", ""), c.get("label_zh_hans", "")])
                for c in self.instance.choices or []
            )

    def _post_clean(self) -> None:  # validation happens in the service
        pass

    def parsed_choices(self) -> list[dict[str, str]]:
        text = self.cleaned_data.get("choices_text") or ""
        if text.strip().startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return []
        rows = []
        for line in text.splitlines():
            parts = [p.strip() for p in line.split("|")]
            if not parts or not parts[0]:
                continue
            rows.append(
                {
                    "value": parts[0],
                    "label_en": parts[1] if len(parts) > 1 and parts[1] else parts[0],
                    "label_zh_hans": parts[2] if len(parts) > 2 else "",
                }
            )
        return rows

    def service_fields(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k != "choices_text"}
        data["choices"] = self.parsed_choices()
        return data

    def apply_errors(self, error: ValidationFailed) -> None:
        for key, messages in error.fields.items():
            name = "choices_text" if key == "choices" else key
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
