from django.urls import path

from . import views

app_name = "knowledge"
urlpatterns = [
    path("", views.KnowledgeListView.as_view(), name="list"),
    path("<int:pk>/", views.KnowledgeDetailView.as_view(), name="detail"),
    path("<int:pk>/upload", views.UploadView.as_view(), name="upload"),
]
