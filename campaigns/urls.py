from django.urls import path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_create, name="create"),
    path("agreements/", views.agreement_list, name="agreements"),
    path("preview/", views.campaign_preview, name="preview"),
    path("test/", views.campaign_test, name="test"),
    path("<uuid:job_id>/", views.campaign_detail_view, name="detail"),
    path("<uuid:job_id>/failed/", views.campaign_failed, name="failed"),
    path("<uuid:job_id>/failed.csv", views.campaign_failed_csv, name="failed-csv"),
]
