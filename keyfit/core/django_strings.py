"""Django's own strings that its zh_Hans catalogue does not translate (yet), listed here so that
makemessages puts them in keyfit.core's catalogue, which takes precedence over Django's (keyfit.core is
the first app in INSTALLED_APPS). Nothing imports this module: the strings are only extracted."""

from django.utils.translation import gettext_noop

DJANGO_STRINGS = [
    gettext_noop("- Select an option -"),  # django.db.models.fields.BLANK_CHOICE_LABEL (Django 6.1)
]
