import pytest


@pytest.fixture(scope="session")
def celery_includes():
    return ["tests.tasks"]
