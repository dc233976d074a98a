"""The claims domain: cars and one model per claim type."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ClaimStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    PAID = "paid", "Paid"


class Car(models.Model):
    make = models.CharField(max_length=40)
    model = models.CharField(max_length=60)
    year = models.PositiveSmallIntegerField()
    plate = models.CharField(max_length=16, db_index=True)
    vin = models.CharField("VIN", max_length=17, unique=True)

    class Meta:
        ordering = ["make", "model", "year"]

    def __str__(self) -> str:
        return f"{self.make} {self.model} {self.year} ({self.plate})"


class Claim(models.Model):
    """Fields every claim type has; each type is its own table (they are exported apart)."""

    number = models.CharField(max_length=24, unique=True)
    customer_name = models.CharField(max_length=120)
    customer_email = models.EmailField()
    car = models.ForeignKey(Car, on_delete=models.PROTECT, related_name="%(class)ss")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(
        max_length=12, choices=ClaimStatus.choices, default=ClaimStatus.OPEN, db_index=True
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number


class AccidentClaim(Claim):
    occurred_at = models.DateTimeField()
    location = models.CharField(max_length=120)
    police_involved = models.BooleanField(default=False)

    class Meta(Claim.Meta):
        # Exporting hands out customers' names and emails: a right of its own, beside `view`.
        permissions = [("export_accidentclaim", "Can export accident claims")]


class TheftClaim(Claim):
    stolen_at = models.DateTimeField()
    police_report = models.CharField(max_length=40, blank=True)
    recovered = models.BooleanField(default=False)

    class Meta(Claim.Meta):
        permissions = [("export_theftclaim", "Can export theft claims")]


class WarrantyClaim(Claim):
    part = models.CharField(max_length=80)
    mileage_km = models.PositiveIntegerField()
    purchase_date = models.DateField()

    class Meta(Claim.Meta):
        permissions = [("export_warrantyclaim", "Can export warranty claims")]
