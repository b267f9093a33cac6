"""Shop pages. Their queries are cached by cacheops (profile ``catalog.*`` in settings)."""

from django.shortcuts import get_object_or_404, render

from .models import Category, Product


def product_list(request):
    categories = [
        (c, list(Product.objects.filter(category=c).order_by("sku"))) for c in Category.objects.all()
    ]
    return render(request, "catalog/product_list.html", {"categories": categories})


def product_detail(request, sku: str):
    product = get_object_or_404(Product, sku=sku)
    return render(request, "catalog/product_detail.html", {"product": product})
