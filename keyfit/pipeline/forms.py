from django import forms
from django.utils.translation import gettext_lazy as _

from keyfit.accounts.choices import BuyingRole
from keyfit.core.customfields import custom_form_fields, custom_values_from_form
from keyfit.core.money import currency_choices, default_currency
from keyfit.pipeline.choices import ActivityKind, Channel, ForecastCategory, PreviousLink, RequirementWhen
from keyfit.pipeline.gates import requirement_choices
from keyfit.pipeline.models import LostReason, PipelineSettings, Stage

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class CustomFieldsMixin:
    def add_custom_fields(self, initial=None):
        for name, field in custom_form_fields("opportunity", initial).items():
            self.fields[name] = field

    def custom_values(self):
        return custom_values_from_form(self.cleaned_data)


PREVIOUS_LINK_CHOICES = [("", "—"), *PreviousLink.choices]


class OpportunityCreateForm(CustomFieldsMixin, forms.Form):
    name = forms.CharField(label=_("name"), max_length=200)
    account = forms.ModelChoiceField(label=_("account"), queryset=None)
    amount = forms.DecimalField(label=_("amount"), required=False, min_value=0, max_digits=18, decimal_places=2)
    currency = forms.ChoiceField(label=_("currency"), choices=currency_choices, initial=default_currency)
    expected_close_date = forms.DateField(label=_("expected close date"), required=False, widget=DATE)
    # Set by the "start a renewal / expansion" buttons of an earlier deal (hidden: the page names that deal).
    previous = forms.ModelChoiceField(queryset=None, required=False, widget=forms.HiddenInput)
    previous_link = forms.ChoiceField(
        label=_("link to previous"), choices=PREVIOUS_LINK_CHOICES, required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args, accounts, opportunities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts
        self.fields["previous"].queryset = opportunities
        self.add_custom_fields()

    def clean(self):
        data = super().clean()
        previous = data.get("previous")
        if previous is not None and data.get("account") is not None and previous.account_id != data["account"].pk:
            self.add_error("account", _("A renewal or expansion follows an opportunity of the same account."))
        return data


class OpportunityEditForm(CustomFieldsMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    name = forms.CharField(label=_("name"), max_length=200)
    owner = forms.ModelChoiceField(label=_("owner"), queryset=None)
    team = forms.ModelChoiceField(label=_("team"), queryset=None, required=False)
    amount = forms.DecimalField(label=_("amount"), required=False, min_value=0, max_digits=18, decimal_places=2)
    currency = forms.ChoiceField(label=_("currency"), choices=currency_choices)
    expected_close_date = forms.DateField(label=_("expected close date"), required=False, widget=DATE)
    manual_probability = forms.IntegerField(
        label=_("manual probability (%)"),
        required=False,
        min_value=0,
        max_value=100,
        help_text=_("Leave empty to use the stage's probability."),
    )
    forecast_category = forms.ChoiceField(label=_("forecast category"), choices=ForecastCategory.choices)
    competitors = forms.CharField(label=_("competitors"), required=False, max_length=500)
    previous = forms.ModelChoiceField(
        label=_("previous opportunity"),
        queryset=None,
        required=False,
        help_text=_("The earlier deal of this account that this one renews or expands."),
    )
    previous_link = forms.ChoiceField(label=_("link to previous"), choices=PREVIOUS_LINK_CHOICES, required=False)
    motivation = forms.CharField(label=_("motivation"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    need = forms.CharField(label=_("need"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    expectations = forms.CharField(label=_("expectations"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    success_criteria = forms.CharField(
        label=_("success criteria"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    decision_criteria = forms.CharField(
        label=_("decision criteria"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    feasibility_confirmed = forms.BooleanField(label=_("customer confirmed the approach is feasible"), required=False)
    risk_only_method = forms.BooleanField(label=_("risk: only seeking a method"), required=False)
    risk_only_method_confirmed = forms.BooleanField(label=_("risk confirmed: only seeking a method"), required=False)
    risk_not_buying = forms.BooleanField(label=_("risk: not buying from us"), required=False)
    risk_not_buying_confirmed = forms.BooleanField(label=_("risk confirmed: not buying from us"), required=False)

    MEDDPICC = ("metrics", "decision_process", "paper_process", "identified_pain")

    def __init__(self, *args, opportunity, owners, teams, earlier_deals, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners
        self.fields["team"].queryset = teams
        self.fields["previous"].queryset = earlier_deals
        if PipelineSettings.current().meddpicc_enabled:
            labels = {
                "metrics": _("metrics"),
                "decision_process": _("decision process"),
                "paper_process": _("paper process"),
                "identified_pain": _("identified pain"),
            }
            for name in self.MEDDPICC:
                self.fields[name] = forms.CharField(
                    label=labels[name], required=False, widget=forms.Textarea(attrs={"rows": 2})
                )
        self.add_custom_fields(opportunity.custom_fields)

    def changes(self):
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith("cf_") and k != "version"}
        for key in ("motivation", "need", "expectations", "success_criteria", "decision_criteria", "competitors"):
            if key in data:
                data[key] = data[key] or ""
        data["custom_fields"] = self.custom_values()
        return data


class _ListedChoices(forms.models.ModelChoiceIterator):
    """Reads a small vocabulary with one plain query (the default iterator() opens a server-side cursor on
    PostgreSQL: three round trips for a handful of rows)."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset.all():
            yield self.choice(obj)


class VocabularyChoiceField(forms.ModelChoiceField):
    iterator = _ListedChoices


class MoveForm(forms.Form):
    stage = VocabularyChoiceField(label=_("stage"), queryset=Stage.objects.none(), to_field_name="code")
    reason = forms.CharField(label=_("reason"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    override = forms.BooleanField(label=_("override the gate (administrators)"), required=False)
    lost_reason = VocabularyChoiceField(
        label=_("lost reason"), queryset=LostReason.objects.none(), required=False, to_field_name="code"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = Stage.objects.filter(active=True).exclude(kind="lead")
        self.fields["lost_reason"].queryset = LostReason.objects.filter(active=True)


class WonForm(forms.Form):
    signed_on = forms.DateField(label=_("signed on"), widget=DATE)
    start_date = forms.DateField(label=_("start"), widget=DATE)
    end_date = forms.DateField(label=_("end"), widget=DATE)
    annual_recurring_value = forms.DecimalField(
        label=_("annual recurring value"), min_value=0, max_digits=18, decimal_places=2
    )
    currency = forms.ChoiceField(label=_("currency"), choices=currency_choices)
    reason = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class LostForm(forms.Form):
    lost_reason = forms.ModelChoiceField(
        label=_("lost reason"), queryset=LostReason.objects.none(), to_field_name="code"
    )
    reason = forms.CharField(label=_("what happened"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lost_reason"].queryset = LostReason.objects.filter(active=True)


class DealContactForm(forms.Form):
    contact = forms.ModelChoiceField(label=_("contact"), queryset=None)
    role = forms.ChoiceField(label=_("role in this deal"), choices=[("", "—"), *BuyingRole.choices], required=False)
    is_key = forms.BooleanField(label=_("key contact"), required=False)
    motivation = forms.CharField(label=_("motivation"), required=False)
    need = forms.CharField(label=_("need"), required=False)
    expectations = forms.CharField(label=_("expectations"), required=False)
    success_criteria = forms.CharField(label=_("success criteria"), required=False)

    def __init__(self, *args, contacts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = contacts


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(label=_("type"), choices=ActivityKind.choices)
    subject = forms.CharField(label=_("subject"), max_length=200)
    occurred_at = forms.DateTimeField(label=_("when"), required=False, widget=DATETIME)
    duration_minutes = forms.IntegerField(label=_("duration (minutes)"), required=False, min_value=0)
    channel = forms.ChoiceField(label=_("channel"), choices=Channel.choices)
    contacts = forms.ModelMultipleChoiceField(
        label=_("contact participants"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    outcome = forms.CharField(label=_("outcome"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    next_step = forms.CharField(label=_("next step"), required=False, max_length=300)
    next_step_date = forms.DateField(label=_("next step date"), required=False, widget=DATE)
    done = forms.BooleanField(label=_("done"), required=False)

    def __init__(self, *args, contacts, with_version: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contacts"].queryset = contacts
        if with_version:  # editing: the version the editor read (a stale save answers with a conflict)
            self.fields["version"] = forms.IntegerField(widget=forms.HiddenInput)


class RequirementForm(forms.Form):
    stage = forms.ModelChoiceField(label=_("stage"), queryset=None, to_field_name="code")
    requirement = forms.ChoiceField(label=_("requirement"), choices=())
    when = forms.ChoiceField(label=_("when"), choices=RequirementWhen.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = Stage.objects.filter(active=True).exclude(kind="lead")
        self.fields["requirement"].choices = requirement_choices()
