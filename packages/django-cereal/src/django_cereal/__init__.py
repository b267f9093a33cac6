"""kombu serializers that send Django models through Celery as references and hand tasks fresh rows."""

__version__ = "1.0.0.dev0"
