from django import forms
from django.utils.translation import gettext_lazy as _

from keyfit.fitcanvas.choices import ShareItem


class WaveForm(forms.Form):
    account = forms.ModelChoiceField(queryset=None, label=_("Key account"))
    name = forms.CharField(label=_("Name"), max_length=200)
    due_date = forms.DateField(label=_("Due date"), widget=forms.DateInput(attrs={"type": "date"}))
    template = forms.ModelChoiceField(queryset=None, label=_("Questionnaire version"), required=False)
    notes = forms.CharField(label=_("Internal notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, accounts, templates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts
        self.fields["template"].queryset = templates


class ShareForm(forms.Form):
    items = forms.MultipleChoiceField(
        label=_("Share with the customer raters"),
        choices=ShareItem.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
