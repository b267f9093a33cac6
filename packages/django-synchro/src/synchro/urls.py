"""``path('synchro/', include('synchro.urls'))`` gives the view ``synchro:synchro``."""

from django.urls import path

from . import views

app_name = "synchro"
urlpatterns = [path("", views.synchro, name="synchro")]
