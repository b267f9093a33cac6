"""Shop pages. Their queries are cached by cacheops (profile ``catalog.*`` in settings); stock
levels come from the Redis ledger (redis-schematics); an order goes to the Celery worker as a
model reference (django-cereal), which confirms it."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from .models import Category, Order, Product
from .stock import WAREHOUSES, levels
from .tasks import confirm_order


class OrderForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=99, initial=1)


def product_list(request: HttpRequest) -> HttpResponse:
    stock = levels()
    categories = [
        (c, [(p, [stock.get(p.sku, {}).get(w, 0) for w in WAREHOUSES]) for p in c.products.order_by("sku")])
        for c in Category.objects.order_by("name")
    ]
    return render(request, "catalog/product_list.html", {"categories": categories, "warehouses": WAREHOUSES})


def product_detail(request: HttpRequest, sku: str) -> HttpResponse:
    product = get_object_or_404(Product, sku=sku)
    form = OrderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        order = Order.objects.create(product=product, quantity=form.cleaned_data["quantity"])
        confirm_order.delay(order)  # the worker receives a reference and reads the row fresh
        return redirect("order-list")
    stock = levels().get(sku, {})
    return render(
        request,
        "catalog/product_detail.html",
        {"product": product, "stock": [(w, stock.get(w, 0)) for w in WAREHOUSES], "form": form},
    )


def order_list(request: HttpRequest) -> HttpResponse:
    orders = Order.objects.select_related("product").order_by("-pk")
    return render(request, "catalog/order_list.html", {"orders": orders})
