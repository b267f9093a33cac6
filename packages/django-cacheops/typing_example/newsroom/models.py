from django.db import models


class Article(models.Model):
    # Annotated for pyright, which has no django-stubs plugin to infer field types.
    title: models.CharField[str, str] = models.CharField(max_length=200)
    tag: models.IntegerField[int, int] = models.IntegerField(default=0)
    published: models.BooleanField[bool, bool] = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.title
