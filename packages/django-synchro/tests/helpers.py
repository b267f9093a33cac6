from __future__ import annotations

from synchro import call_synchronize
from synchro.models import ChangeLog


def sync(**kwargs):
    return call_synchronize(**kwargs)


def names(model, alias="remote", field="name"):
    return sorted(model.objects.using(alias).values_list(field, flat=True))


def logs(alias="default", **filters):
    return list(ChangeLog.objects.using(alias).filter(**filters).order_by("id"))
