from django.urls import path

from campaigns import views

app_name = "agreements"

urlpatterns = [
    path("accept/<str:token>/", views.accept, name="accept"),
]
