from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ImportJob(models.Model):
    """One import or export run: its file, mapping, progress checkpoint and final counts."""

    class Direction(models.TextChoices):
        IMPORT = "import", _("Import")
        EXPORT = "export", _("Export")

    class Status(models.TextChoices):
        MAPPING = "mapping", _("Waiting for mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", pgettext_lazy("import status", "Done")
        FAILED = "failed", pgettext_lazy("import status", "Failed")
        CANCELLED = "cancelled", _("Cancelled")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="import_jobs"
    )
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices, default=Direction.IMPORT)
    kind = models.CharField(_("object"), max_length=32)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.MAPPING)
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    file_path = models.CharField(_("stored file"), max_length=500, blank=True)
    file_format = models.CharField(_("format"), max_length=8, default="csv")
    encoding = models.CharField(_("encoding"), max_length=32, blank=True)
    mapping = models.JSONField(_("mapping"), default=dict, blank=True)
    dry_run = models.BooleanField(_("dry run"), default=False)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    rows_total = models.PositiveIntegerField(_("rows (estimate)"), null=True, blank=True)
    created = models.PositiveIntegerField(pgettext_lazy("import rows", "created"), default=0)
    updated = models.PositiveIntegerField(pgettext_lazy("import rows", "updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    errors = models.JSONField(_("errors (first ones)"), default=list, blank=True)
    rejected_path = models.CharField(_("rejected rows file"), max_length=500, blank=True)
    rejected_bytes = models.PositiveBigIntegerField(_("rejected file size at the checkpoint"), default=0)
    result_path = models.CharField(_("result file"), max_length=500, blank=True)
    message = models.CharField(_("message"), max_length=1000, blank=True)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import or export job")
        verbose_name_plural = _("import and export jobs")
        indexes = [models.Index(fields=["owner", "-created_at", "-id"], name="importjob_owner_idx")]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.kind} #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def counts(self) -> dict:
        return {
            "rows": self.rows_done,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }

    @property
    def percent(self) -> int:
        if not self.rows_total:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, int(self.rows_done * 100 / self.rows_total))

    @property
    def rate(self) -> float:
        if not self.started_at or not self.rows_done:
            return 0.0
        end = self.finished_at or timezone.now()
        seconds = max((end - self.started_at).total_seconds(), 0.001)
        return self.rows_done / seconds

    @property
    def seconds_left(self) -> int | None:
        rate = self.rate
        if not rate or not self.rows_total or self.status != self.Status.RUNNING:
            return None
        return max(0, int((self.rows_total - self.rows_done) / rate))


class SavedMapping(models.Model):
    """A column mapping a user saved to reuse with the next file of the same shape."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE, related_name="import_mappings"
    )
    kind = models.CharField(_("object"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    mapping = models.JSONField(_("mapping"), default=dict)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("saved mapping")
        verbose_name_plural = _("saved mappings")
        constraints = [models.UniqueConstraint(fields=["owner", "kind", "name"], name="savedmapping_unique_name")]

    def __str__(self) -> str:
        return self.name
