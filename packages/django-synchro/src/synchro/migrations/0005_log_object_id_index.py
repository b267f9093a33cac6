from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("synchro", "0004_no_log_date_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="changelog",
            index=models.Index(fields=["object_id"], name="synchro_log_object_id_idx"),
        ),
        migrations.RemoveIndex(model_name="changelog", name="synchro_log_object_idx"),
    ]
