"""The staff-only page that shows the last synchronization and runs or resets it."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from .checkpoints import node_id, read_checkpoint
from .core import call_synchronize, reset_synchro
from .models import ChangeLog, FailedChange, options
from .results import SyncError
from .settings import synchro_settings

# django-synchro 0.7 projects override "synchro.html"; "synchro/synchro.html" is the page itself.
TEMPLATES = ["synchro.html", "synchro/synchro.html"]


def _admin_url(name: str) -> str | None:
    if apps.is_installed("django.contrib.admin"):
        try:
            return reverse(name)
        except NoReverseMatch:
            pass
    return None


def _login_url() -> str:
    return _admin_url("admin:login") or settings.LOGIN_URL


def _message(request: HttpRequest, level: str, text: str) -> None:
    if apps.is_installed("django.contrib.messages"):
        from django.contrib import messages

        getattr(messages, level)(request, text, fail_silently=True)


def _pending() -> int:
    """Log entries of LOCAL that the next push would read (after REMOTE's checkpoint)."""
    local, remote = synchro_settings.LOCAL, synchro_settings.REMOTE
    queryset = ChangeLog.objects.using(local)
    if remote:
        checkpoint = read_checkpoint(remote, node_id(local, create=False))
        if checkpoint is not None:
            queryset = queryset.filter(id__gt=checkpoint.position)
    return queryset.count()


def _post(request: HttpRequest) -> HttpResponse:
    if "synchronize" in request.POST or "synchro" in request.POST:  # "synchro": 0.7's button
        try:
            summary = call_synchronize()
        except Exception as exc:
            if synchro_settings.DEBUG:
                raise
            text = str(exc) if isinstance(exc, SyncError) else f"{type(exc).__name__}: {exc}"
            _message(request, "error", _("Synchronization failed: %(error)s") % {"error": text})
        else:
            _message(request, "success", _("Synchronization finished: %(summary)s") % {"summary": summary})
    elif "reset" in request.POST:
        if not synchro_settings.ALLOW_RESET:
            return HttpResponseForbidden(_("Resetting the checkpoint is disabled (SYNCHRO_ALLOW_RESET)."))
        reset_synchro()
        _message(request, "success", _("The checkpoint was reset."))
    return redirect(request.path)


@require_http_methods(["GET", "POST"])
@staff_member_required(login_url=lazy(_login_url, str)())
@csrf_protect
def synchro(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _post(request)
    local = synchro_settings.LOCAL
    last_check = options.last_check
    context: dict[str, Any] = {
        "title": _("Synchronization"),
        "last_check": last_check,
        "pending": _pending(),
        "failed": FailedChange.objects.using(local).order_by("-created")[:20],
        "remote": synchro_settings.REMOTE,
        "allow_reset": synchro_settings.ALLOW_RESET,
        "base_template": "synchro/base.html",
        "admin_index": None,
        # The names django-synchro 0.7's template used.
        "last": last_check,
        "reset_allowed": synchro_settings.ALLOW_RESET,
    }
    if apps.is_installed("django.contrib.admin"):
        from django.contrib import admin

        context.update(admin.site.each_context(request))
        context["base_template"] = "admin/base_site.html"
        context["admin_index"] = _admin_url("admin:index")
    return render(request, TEMPLATES, context)
