from django.urls import path

from exports import views

app_name = "exports"

urlpatterns = [
    path("", views.export_start_view, name="start"),
    path("types/", views.export_types_view, name="types"),
    path("<str:claim_type>/count/", views.export_count_view, name="count"),
]
