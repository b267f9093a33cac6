from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("synchro", "0003_one_node_per_database"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="changelog", name="synchro_log_date_idx"),
    ]
