"""Agreements users accept, and the reminder campaigns that chase the ones who have not."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Agreement(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    version = models.PositiveIntegerField(default=1)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"


class Acceptance(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="acceptances"
    )
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="acceptances")
    # The version the user saw when accepting; "unsigned" is per agreement, whatever the version.
    version = models.PositiveIntegerField(default=1)
    accepted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        unique_together = [("user", "agreement")]
        ordering = ["-accepted_at"]

    def __str__(self) -> str:
        return f"{self.user_id} accepted {self.agreement_id} v{self.version}"


class Campaign(models.Model):
    """One reminder campaign run: the job it is, the agreement it chases, its summary."""

    job = models.OneToOneField(
        "jobs.Job", on_delete=models.CASCADE, primary_key=True, related_name="campaign"
    )
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="campaigns")
    agreement_version = models.PositiveIntegerField()
    # Claimed with a conditional UPDATE so exactly one server sends the summary.
    summary_sent_at = models.DateTimeField(null=True, blank=True)
    summary_mail = models.ForeignKey(
        "post_office.Email", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        # Mailing every user is a right of its own; staff alone is not enough.
        permissions = [("send_reminders", "Can send reminder campaigns")]

    def __str__(self) -> str:
        return f"Campaign {self.job_id} for {self.agreement_id}"


class RecipientStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    # Written before the SMTP call, replaced right after: a row left `sending` by a dead
    # process is the only one that may have been delivered without being recorded.
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # Handed over to the job that resumed this one.
    MOVED = "moved", "Moved to the resumed job"


class Recipient(models.Model):
    """One reminder of one campaign job: who, which post-office Email, and what happened."""

    job = models.ForeignKey(
        "jobs.Job", on_delete=models.CASCADE, related_name="campaign_recipients"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    email = models.CharField(max_length=254)
    status = models.CharField(
        max_length=8, choices=RecipientStatus.choices, default=RecipientStatus.PENDING
    )
    error = models.TextField(blank=True)
    # False for permanent refusals (5xx): a resume does not try them again.
    retryable = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    # The first attempt died on a connection error after the message may have been accepted.
    maybe_duplicate = models.BooleanField(default=False)
    mail = models.ForeignKey(
        "post_office.Email", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    attempted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["job", "status"])]

    def __str__(self) -> str:
        return f"{self.email} ({self.status})"


class ReminderTestSend(models.Model):
    """A reminder an admin sent to their own address to see it ("Send a test to me"): not a
    campaign recipient, not counted as reminded; the rows are the test sends' rate limit."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="+")
    email = models.CharField(max_length=254)
    mail = models.ForeignKey(
        "post_office.Email", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(auto_now_add=True)
    # Empty when the transport took it; else why not.
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "sent_at"])]

    def __str__(self) -> str:
        return f"test reminder to {self.email}"
