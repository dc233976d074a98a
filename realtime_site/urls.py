from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from jobs import views as job_views
from jobs.dashboard import dashboard
from realtime_site import errors
from realtime_site.schema import openapi_schema

urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/jobs/", include("jobs.urls")),
    path("api/exports/", include("exports.urls")),
    path("api/campaigns/", include("campaigns.urls")),
    path("api/tokens/", include("tokens.urls")),
    path("agreements/", include("campaigns.page_urls")),
    path("api/schema/", openapi_schema, name="openapi-schema"),
    path("api/demo-jobs/", job_views.demo_job_start, name="demo-job-start"),
    # Unknown /api/ paths answer JSON 404 even with DEBUG on.
    re_path(r"^api/", errors.api_not_found),
]

handler400 = errors.handler400
handler403 = errors.handler403
handler404 = errors.handler404
handler500 = errors.handler500
