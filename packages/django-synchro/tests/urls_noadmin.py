from django.urls import include, path

urlpatterns = [path("synchro/", include("synchro.urls"))]
