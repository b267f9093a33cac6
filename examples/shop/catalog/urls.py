from django.urls import path

from . import views

urlpatterns = [
    path("", views.product_list, name="product-list"),
    path("products/<str:sku>/", views.product_detail, name="product-detail"),
    path("orders/", views.order_list, name="order-list"),
]
