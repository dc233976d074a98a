from django.urls import path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_create, name="create"),
    path("agreements/", views.agreement_list, name="agreements"),
]
