from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("synchro", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="checkpoint",
            name="gaps",
            field=models.JSONField(blank=True, default=list, verbose_name="awaited log ids"),
        ),
    ]
