from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/synchro/", include("synchro.urls")),
    path("admin/", admin.site.urls),
    path("", include("catalog.urls")),
]
