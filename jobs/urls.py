from django.urls import path

from jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="list"),
    path("<uuid:job_id>/", views.job_detail, name="detail"),
    path("<uuid:job_id>/cancel/", views.job_cancel_view, name="cancel"),
    path("<uuid:job_id>/resume/", views.job_resume_view, name="resume"),
    path("<uuid:job_id>/download/", views.job_download, name="download"),
]
