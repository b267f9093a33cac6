"""The staff-only page that shows the last synchronization and runs or resets it."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from .settings import synchro_settings


def _login_url() -> str:
    if apps.is_installed("django.contrib.admin"):
        try:
            return reverse("admin:login")
        except NoReverseMatch:
            pass
    return settings.LOGIN_URL


def _is_staff(user) -> bool:
    return user.is_active and user.is_staff


def _message(request: HttpRequest, level: str, text: str) -> None:
    if apps.is_installed("django.contrib.messages"):
        from django.contrib import messages

        getattr(messages, level)(request, text, fail_silently=True)


def _pending(local: str, since) -> int:
    from .models import ChangeLog

    queryset = ChangeLog.objects.using(local)
    return (queryset.filter(date__gt=since) if since else queryset).count()


@require_http_methods(["GET", "POST"])
def synchro(request: HttpRequest) -> HttpResponse:
    if not _is_staff(request.user):
        return redirect_to_login(request.get_full_path(), _login_url())
    from .core import call_synchronize, reset_synchro
    from .engine import SyncError
    from .models import FailedChange, options

    if request.method == "POST":
        if "synchronize" in request.POST:
            try:
                summary = call_synchronize()
            except Exception as exc:
                if synchro_settings.DEBUG:
                    raise
                text = str(exc) if isinstance(exc, SyncError) else f"{type(exc).__name__}: {exc}"
                _message(request, "error", _("Synchronization failed: %(error)s") % {"error": text})
            else:
                _message(
                    request, "success", _("Synchronization finished: %(summary)s") % {"summary": summary}
                )
        elif "reset" in request.POST:
            if not synchro_settings.ALLOW_RESET:
                return HttpResponseForbidden(_("Resetting the checkpoint is disabled (SYNCHRO_ALLOW_RESET)."))
            reset_synchro()
            _message(request, "success", _("The checkpoint was reset."))
        return redirect(request.path)

    local = synchro_settings.LOCAL
    context = {
        "title": _("Synchronization"),
        "last_check": options.last_check,
        "pending": _pending(local, options.last_check),
        "failed": FailedChange.objects.using(local).order_by("-created")[:20],
        "remote": synchro_settings.REMOTE,
        "allow_reset": synchro_settings.ALLOW_RESET,
        "base_template": "synchro/base.html",
    }
    if apps.is_installed("django.contrib.admin"):
        from django.contrib import admin

        context.update(admin.site.each_context(request))
        context["base_template"] = "admin/base_site.html"
    return render(request, "synchro/synchro.html", context)
