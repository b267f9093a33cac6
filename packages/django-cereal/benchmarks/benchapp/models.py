from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=100)
    description = models.TextField(default="")
    price = models.IntegerField(default=0)

    class Meta:
        app_label = "benchapp"

    def __str__(self) -> str:
        return self.name
