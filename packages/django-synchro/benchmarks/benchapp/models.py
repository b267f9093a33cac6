from django.db import models


class Plain(models.Model):
    name = models.CharField(max_length=50)
    number = models.IntegerField(default=0)


class Watched(models.Model):
    name = models.CharField(max_length=50)
    number = models.IntegerField(default=0)


class Author(models.Model):
    name = models.CharField(max_length=50)


class Tag(models.Model):
    name = models.CharField(max_length=50)


class Book(models.Model):
    title = models.CharField(max_length=50)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    tags = models.ManyToManyField(Tag)
