"""Writes that bypass Django's signals are not logged (the README's limit), and
``synchro.log_changes()`` is the call that logs them by hand, after which they synchronize."""

from __future__ import annotations

import pytest
from django.db import connections

from synchro import call_synchronize, log_changes
from tests.replay_check import (
    assert_replayed,
    committed,
    differences,
    pair_params,
    replay_databases,
    snapshot,
    using_pair,
)
from tests.replayapp.models import Country, Vet

pytestmark = pytest.mark.django_db(databases=replay_databases())


@pytest.fixture
def pair(request):
    with using_pair(request.param) as pair:
        yield pair


@pytest.mark.parametrize("pair", pair_params(), indirect=True)
@committed
def test_bulk_create_update_and_raw_sql_reach_remote_once_logged_by_hand(pair):
    L = pair.local
    gone = Country.objects.using(L).create(code="gone")
    vet = Vet.objects.using(L).create(name="v", badge="b1")
    assert_replayed(pair)

    created = Country.objects.using(L).bulk_create([Country(code="bulk1"), Country(code="bulk2")])
    Vet.objects.using(L).filter(pk=vet.pk).update(badge="b2")
    table = connections[L].ops.quote_name(Country._meta.db_table)
    with connections[L].cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [gone.pk])
    call_synchronize()
    missed = differences(snapshot(L), snapshot(pair.remote))
    assert len(missed) == 4, missed  # the limit: two additions, a change and a deletion not seen

    pks = [c.pk for c in created] or list(
        Country.objects.using(L).filter(code__startswith="bulk").values_list("pk", flat=True)
    )
    log_changes(Country, pks, "addition", using=L)
    log_changes(Vet, [vet.pk], "change", using=L)
    log_changes(Country, [gone.pk], "deletion", using=L)
    assert_replayed(pair)
