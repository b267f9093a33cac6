"""Tests written with Django's TestCase (each test inside transactions that never commit):
``ignore_enclosing_transactions()`` makes cacheops behave as outside any transaction."""

from __future__ import annotations

from django.db import transaction
from django.test import TestCase

from cacheops import invalidate_all
from cacheops.transaction import ignore_enclosing_transactions, is_dirty, queue_when_in_transaction
from tests.testapp.models import Category


class IgnoredTransactionsTests(TestCase):
    def setUp(self) -> None:
        ignored = ignore_enclosing_transactions()
        ignored.__enter__()  # TestCase.enterContext() needs Python 3.11
        self.addCleanup(ignored.__exit__, None, None, None)
        invalidate_all()
        self.cat = Category.objects.create(title="a")

    def title(self) -> str:
        return Category.objects.cache().get(pk=self.cat.pk).title

    def test_writes_invalidate_at_once_and_reads_are_cached(self) -> None:
        self.assertFalse(is_dirty("default"))
        self.assertEqual(self.title(), "a")
        with self.assertNumQueries(0):
            self.assertEqual(self.title(), "a")
        self.cat.title = "b"
        self.cat.save()
        with self.assertNumQueries(1):
            self.assertEqual(self.title(), "b")

    def test_an_inner_block_acts_as_the_outermost_one(self) -> None:
        self.assertEqual(self.title(), "a")
        with transaction.atomic():
            self.cat.title = "b"
            self.cat.save()
            self.assertTrue(is_dirty("default"))
            with self.assertNumQueries(1):
                self.assertEqual(self.title(), "b")  # a dirty read: from the database
        self.assertFalse(is_dirty("default"))
        with self.assertNumQueries(1):
            self.assertEqual(self.title(), "b")  # invalidated when the block ended
        with self.assertNumQueries(0):
            self.assertEqual(self.title(), "b")

    def test_a_rolled_back_inner_block_leaves_the_cache_alone(self) -> None:
        self.assertEqual(self.title(), "a")
        calls = []

        @queue_when_in_transaction
        def note(using: str = "default") -> None:
            calls.append(using)

        with self.assertRaises(ValueError), transaction.atomic():
            Category.objects.filter(pk=self.cat.pk).update(title="b")
            note()
            raise ValueError
        self.assertEqual(calls, [])  # dropped with the block
        with self.assertNumQueries(0):
            self.assertEqual(self.title(), "a")
        with transaction.atomic():
            note()
            self.assertEqual(calls, [])
        self.assertEqual(calls, ["default"])
        note()
        self.assertEqual(calls, ["default", "default"])
