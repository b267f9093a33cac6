"""The shop's sample data, shared by ``manage.py demo`` and ``manage.py runshop``."""

from decimal import Decimal

from .models import Category, Product

PRODUCTS = [
    ("APL", "Apple", "Fruit", "0.90"),
    ("PER", "Pear", "Fruit", "1.20"),
    ("MLK", "Milk", "Dairy", "1.05"),
    ("CHS", "Cheese", "Dairy", "4.50"),
]
# (sku, warehouse) -> units in the stock ledger
STOCK = {
    ("APL", "north"): 40, ("PER", "north"): 3, ("MLK", "north"): 2, ("CHS", "north"): 12,
    ("APL", "south"): 1, ("PER", "south"): 25, ("MLK", "south"): 30, ("CHS", "south"): 4,
}  # fmt: skip


def stock_catalog() -> None:
    """Create the sample categories and products (on the shop's database)."""
    for sku, name, category, price in PRODUCTS:
        cat, _ = Category.objects.get_or_create(name=category)
        Product.objects.create(sku=sku, name=name, category=cat, price=Decimal(price))
