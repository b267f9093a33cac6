from django.contrib import admin

from .models import Category, Order, Product

admin.site.register(Category)
admin.site.register(Product, list_display=["sku", "name", "category", "price"])
admin.site.register(Order, list_display=["id", "product", "quantity", "status"])
