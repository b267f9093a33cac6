from django.db import models


class Plain(models.Model):
    name = models.CharField(max_length=50)
    number = models.IntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class Watched(models.Model):
    name = models.CharField(max_length=50)
    number = models.IntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class Author(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Book(models.Model):
    title = models.CharField(max_length=50)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    tags = models.ManyToManyField(Tag)

    def __str__(self) -> str:
        return self.title
