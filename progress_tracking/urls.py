from django.urls import path

app_name = "progress_tracking"
urlpatterns: list = []  # the polling API views are added by the API change
