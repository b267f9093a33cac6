"""Celery tasks: the order arrives as a model reference and is read fresh when the task runs."""

from celery import shared_task

from django_cereal.json import DJANGO_CEREAL_JSON

from .models import Order


@shared_task(serializer=DJANGO_CEREAL_JSON)
def confirm_order(order: Order) -> str:
    """Confirm an order; returns what the worker saw in the database."""
    order.status = "confirmed"
    order.save(update_fields=["status"])
    return f"order #{order.pk}: {order.quantity} × {order.product.sku}"
