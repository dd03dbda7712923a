from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from keyfit.core.money import currency_choices
from keyfit.leads.choices import Intent, Originator, SignalType, Source
from keyfit.leads.models import DisqualifyReason


class LeadForm(forms.Form):
    source = forms.ChoiceField(label=_("Source"), choices=Source.choices, initial=Source.MANUAL)
    campaign = forms.CharField(label=_("Campaign"), max_length=120, required=False)
    contact_name = forms.CharField(label=_("Contact name"), max_length=150, required=False)
    contact_title = forms.CharField(label=_("Title"), max_length=150, required=False)
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    company_name = forms.CharField(label=_("Company"), max_length=200, required=False)
    company_domain = forms.CharField(label=_("Company website or domain"), max_length=253, required=False)
    industry = forms.CharField(label=_("Industry"), max_length=32, required=False)
    company_size = forms.CharField(label=_("Company size"), max_length=16, required=False)
    region = forms.CharField(label=_("Region"), max_length=100, required=False)
    priority = forms.IntegerField(label=_("Priority"), min_value=0, max_value=100, initial=50)


class ScreenTwoForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    need_confirmed = forms.BooleanField(label=_("The customer needs to solve the problem (confirmed)"), required=False)
    purchase_intent = forms.ChoiceField(label=_("Purchase intent"), choices=Intent.choices)
    estimated_value = forms.DecimalField(
        label=_("Estimated co-created value"), min_value=0, decimal_places=2, required=False
    )
    currency = forms.ChoiceField(label=_("Currency"), choices=currency_choices)
    bant_budget = forms.CharField(label=_("Budget (BANT)"), max_length=200, required=False)
    bant_authority = forms.CharField(label=_("Authority (BANT)"), max_length=200, required=False)
    bant_need = forms.CharField(label=_("Need (BANT)"), max_length=200, required=False)
    bant_timeline = forms.CharField(label=_("Timeline (BANT)"), max_length=200, required=False)


class SignalForm(forms.Form):
    signal_type = forms.ChoiceField(label=_("Signal"), choices=SignalType.choices)
    originator = forms.ChoiceField(label=_("Originated by"), choices=Originator.choices)
    note = forms.CharField(label=_("Note"), max_length=1000, required=False)


class DisqualifyForm(forms.Form):
    reason = forms.ModelChoiceField(
        label=_("Reason"), queryset=DisqualifyReason.objects.filter(active=True), to_field_name="code"
    )
    note = forms.CharField(label=_("Note"), max_length=500, required=False)


class ReassignForm(forms.Form):
    owner = forms.ModelChoiceField(label=_("New owner"), queryset=None)
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from django.contrib.auth import get_user_model

        self.fields["owner"].queryset = get_user_model().objects.filter(is_active=True).order_by("full_name")


class PublicLeadForm(forms.Form):
    """The public web form. `website` is a honeypot: people never see it, bots fill it in."""

    contact_name = forms.CharField(label=_("Your name"), max_length=150)
    email = forms.EmailField(label=_("Work e-mail"), max_length=254)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    company_name = forms.CharField(label=_("Company"), max_length=200)
    contact_title = forms.CharField(label=_("Your title"), max_length=150, required=False)
    message = forms.CharField(
        label=_("What would you like to solve?"), max_length=1000, required=False, widget=forms.Textarea
    )
    website = forms.CharField(label=_("Leave this field empty"), required=False)
    token = forms.CharField(widget=forms.HiddenInput)
    language = forms.ChoiceField(choices=settings.LANGUAGES, widget=forms.HiddenInput, required=False)
