from django.db import migrations, models


def keep_the_oldest_node(apps, schema_editor):
    """Earlier versions could create two nodes when two first synchronizations raced: keep one."""
    Node = apps.get_model("synchro", "Node")
    nodes = Node.objects.using(schema_editor.connection.alias).order_by("created", "id")
    oldest = nodes.first()
    if oldest is not None:
        nodes.exclude(pk=oldest.pk).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("synchro", "0002_checkpoint_gaps"),
    ]

    operations = [
        migrations.RunPython(keep_the_oldest_node, migrations.RunPython.noop, elidable=True),
        migrations.AddField(
            model_name="node",
            name="own",
            field=models.BooleanField(default=True, editable=False, unique=True),
        ),
        migrations.CreateModel(
            name="Synchronization",
            fields=[],
            options={
                "verbose_name": "synchronization",
                "verbose_name_plural": "synchronization",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("synchro.changelog",),
        ),
    ]
