"""The shop's catalog: categories, products and orders.

Categories and products have natural keys (name, sku), so django-synchro finds them in the
branch office's database whatever their primary keys are there.
"""

from django.db import models

from synchro.core import NaturalManager


class Category(models.Model):
    name = models.CharField(max_length=60, unique=True)

    objects = NaturalManager("name")

    class Meta:
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    sku = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    price = models.DecimalField(max_digits=8, decimal_places=2)

    objects = NaturalManager("sku")

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Order(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="orders")
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=20, default="new")

    def __str__(self) -> str:
        return f"order #{self.pk}: {self.quantity} × {self.product.sku} ({self.status})"
