from django import forms
from django.utils.translation import gettext_lazy as _

from keyfit.imports.kinds import available_kinds
from keyfit.imports.mapping import PRESETS


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File (CSV or XLSX)"))
    kind = forms.ChoiceField(label=_("Import as"))
    preset = forms.ChoiceField(label=_("Mapping"), required=False)
    encoding = forms.ChoiceField(
        label=_("Encoding"),
        required=False,
        choices=[
            ("", _("Detect automatically")),
            ("utf-8", "UTF-8"),
            ("gb18030", _("GB18030 / GBK (Chinese Excel)")),
        ],
    )

    def __init__(self, *args, saved=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k.name, k.label) for k in available_kinds()]
        choices = [("", _("Match column names automatically"))]
        choices += [(f"preset:{p}", _("Preset: %(name)s export") % {"name": p.title()}) for p in PRESETS]
        choices += [(f"saved:{m.pk}", _("Saved: %(name)s") % {"name": m.name}) for m in saved]
        self.fields["preset"].choices = choices

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith((".csv", ".txt", ".tsv", ".xlsx", ".xlsm")):
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."))
        return upload
