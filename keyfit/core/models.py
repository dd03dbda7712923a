from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class EqualityIndex(models.Index):
    """An index for equality look-ups of one column: a hash index on PostgreSQL, a b-tree elsewhere.

    A hash index stores a 4-byte hash per row instead of the value, finds a key in one bucket page instead
    of a descent through a b-tree of long strings, and costs less to insert into — paid again by every
    non-HOT update of the row (routing assigns leads that way)."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            using = " USING hash"
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class VersionedModel(models.Model):
    """Optimistic locking: services compare the version the editor saw and bump it on save."""

    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    class Meta:
        abstract = True


class Vocabulary(models.Model):
    """Admin-editable, translatable reference data (stages, reasons, roles…)."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh_hans = models.CharField(_("name (Simplified Chinese)"), max_length=200)
    position = models.PositiveIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        abstract = True
        ordering = ["position", "id"]

    @property
    def name(self) -> str:
        return localized(self, "name")

    def __str__(self) -> str:
        return self.name


def localized(obj, field: str) -> str:
    """The value of `<field>_zh_hans` or `<field>_en` for the active language, falling back to English."""
    lang = (get_language() or "en").lower()
    if lang.startswith("zh"):
        value = getattr(obj, f"{field}_zh_hans", "")
        if value:
            return value
    return getattr(obj, f"{field}_en", "")


class AuditEvent(models.Model):
    """Append-only log of every change to a business record (who, what, when, before/after)."""

    class Action(models.TextChoices):
        CREATE = "create", _("created")
        UPDATE = "update", _("updated")
        DELETE = "delete", _("deleted")
        MERGE = "merge", _("merged")
        ACCESS = "access", _("accessed")
        OTHER = "other", _("other")

    at = models.DateTimeField(_("at"), default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(_("actor label"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=32, choices=Action.choices)
    verb = models.CharField(_("verb"), max_length=64, blank=True)
    content_type = models.ForeignKey(ContentType, verbose_name=_("object type"), on_delete=models.PROTECT)
    object_id = models.CharField(_("object id"), max_length=64)
    object_repr = models.CharField(_("object"), max_length=300)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    target = GenericForeignKey("content_type", "object_id")

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "-at"], name="audit_object_idx")]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Audit events are append-only.")

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.object_repr}"


class SecureLink(models.Model):
    """A capability link for people without a login (customer respondents, plan portal…).

    Only the SHA-256 of the token is stored; the token itself is shown once. A link is bound to one
    purpose and one target object, expires, and can be revoked.
    """

    purpose = models.CharField(_("purpose"), max_length=64)
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, verbose_name=_("object type"))
    object_id = models.CharField(_("object id"), max_length=64)
    target = GenericForeignKey("content_type", "object_id")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    use_count = models.PositiveIntegerField(_("times used"), default=0)

    class Meta:
        verbose_name = _("secure link")
        verbose_name_plural = _("secure links")
        indexes = [models.Index(fields=["content_type", "object_id", "purpose"], name="securelink_target_idx")]

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    def __str__(self) -> str:
        return f"{self.purpose} → {self.content_type.model} {self.object_id}"


class CustomFieldDefinition(models.Model):
    """An admin-defined field of an object; values live in the object's `custom_fields` JSON column."""

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        MONEY = "money", _("Money")
        DATE = "date", _("Date")
        BOOLEAN = "boolean", _("Yes / no")
        CHOICE = "choice", _("Single choice")
        MULTI_CHOICE = "multi_choice", _("Multiple choice")

    class Target(models.TextChoices):
        ACCOUNT = "account", _("Account")
        CONTACT = "contact", _("Contact")
        LEAD = "lead", _("Lead")
        OPPORTUNITY = "opportunity", _("Opportunity")

    target = models.CharField(_("object"), max_length=32, choices=Target.choices)
    key = models.SlugField(_("key"), max_length=64, help_text=_("Stable identifier used in the API and imports."))
    label_en = models.CharField(_("label (English)"), max_length=200)
    label_zh_hans = models.CharField(_("label (Simplified Chinese)"), max_length=200)
    field_type = models.CharField(_("type"), max_length=16, choices=Type.choices)
    choices = models.JSONField(
        _("choices"),
        default=list,
        blank=True,
        help_text=_('For choice fields: [{"value": "...", "label_en": "...", "label_zh_hans": "..."}]'),
    )
    required = models.BooleanField(_("required"), default=False)
    max_length = models.PositiveIntegerField(_("maximum length"), default=500)
    position = models.PositiveIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["target", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["target", "key"], name="customfield_unique_key")]

    @property
    def label(self) -> str:
        return localized(self, "label")

    def __str__(self) -> str:
        return f"{self.get_target_display()}: {self.label}"


class SavedView(models.Model):
    """A named filter of a list page, private to its owner."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views", verbose_name=_("user")
    )
    list_key = models.CharField(_("list"), max_length=64)
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(_("filters"), max_length=2000)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "list_key", "name"], name="savedview_unique_name")]

    def __str__(self) -> str:
        return self.name
