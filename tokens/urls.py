from django.urls import path

from tokens import views

app_name = "tokens"

urlpatterns = [
    path("", views.token_collection, name="collection"),
    path("<int:token_id>/revoke/", views.token_revoke_view, name="revoke"),
]
