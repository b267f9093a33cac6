"""The documented API of redis-schematics 0.3.1 that its users call: ``patches.patch_json()``, the
exception hierarchy (``RedisMixinException``, ``MultipleFound`` as a ``KeyError``) and ``utils``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from schematics import types

from redis_schematics import (
    ConfigurationError,
    InvalidFilter,
    MultipleFound,
    NotFound,
    SimpleRedisModel,
    StrictPerformanceException,
)

from .conftest import ice_cream
from .models import Strict


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (global patches stay out of this test process)."""
    return subprocess.run(
        [sys.executable, "-W", "ignore", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
    )


# ---------------------------------------------------------------- JSON


def test_patch_json_makes_json_dumps_serialize_models_globally():
    result = run_python(
        """
        import json
        from schematics import types
        from redis_schematics import SimpleRedisModel
        from redis_schematics.patches import patch_json

        class Cone(SimpleRedisModel):
            flavour = types.StringType()

        cones = [Cone({"pk": "1", "flavour": "mint"}), Cone({"pk": "2", "flavour": "lemon"})]
        try:
            json.dumps(cones)
        except TypeError:
            print("unpatched: TypeError")
        patch_json()
        patch_json()  # a second call changes nothing
        print(json.dumps(cones))
        print(json.dumps({"one": cones[0]}, indent=None, sort_keys=True))

        class Other:
            pass

        try:
            json.dumps(Other())
        except TypeError as error:
            print("other:", error)
        """
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "unpatched: TypeError"
    assert json.loads(lines[1]) == [{"pk": "1", "flavour": "mint"}, {"pk": "2", "flavour": "lemon"}]
    assert json.loads(lines[2]) == {"one": {"flavour": "mint", "pk": "1"}}
    assert lines[3] == "other: Object of type Other is not JSON serializable"


def test_patch_json_is_the_documented_global_switch():
    from redis_schematics import patches

    assert "global" in (patches.patch_json.__doc__ or "").lower()


class Cone(SimpleRedisModel):
    flavour = types.StringType()


def test_the_scoped_encoder_serializes_models_without_touching_json():
    from redis_schematics.encoders import ModelJSONEncoder, model_json_default

    cones = [Cone({"pk": "1", "flavour": "mint"})]
    assert json.loads(json.dumps(cones, cls=ModelJSONEncoder)) == [{"pk": "1", "flavour": "mint"}]
    assert json.loads(json.dumps({"c": cones}, default=model_json_default)) == {
        "c": [{"pk": "1", "flavour": "mint"}]
    }
    with pytest.raises(TypeError):  # the standard encoder is left alone
        json.dumps(cones)
    with pytest.raises(TypeError, match="object is not JSON serializable"):
        json.dumps(object(), cls=ModelJSONEncoder)


# ---------------------------------------------------------------- exceptions


def test_multiple_found_is_a_key_error_again(IceCream, r):
    ice_cream(IceCream, "a", "mint", 1).set()
    ice_cream(IceCream, "b", "mint", 2).set()
    with pytest.raises(KeyError) as caught:  # how 0.3.1 code catches it
        IceCream.match_for_values(flavour="mint")
    assert isinstance(caught.value, MultipleFound)
    assert str(caught.value) == f"2 {IceCream.__name__} objects match {{'flavour': 'mint'}}"


def test_every_error_of_the_package_is_a_redis_mixin_exception(r):
    from redis_schematics.exceptions import RedisMixinException

    assert issubclass(NotFound, KeyError)
    assert issubclass(MultipleFound, KeyError)
    for error in (NotFound, MultipleFound, StrictPerformanceException, InvalidFilter, ConfigurationError):
        assert issubclass(error, RedisMixinException), error
    assert issubclass(InvalidFilter, ValueError)
    assert issubclass(ConfigurationError, RuntimeError)
    with pytest.raises(RedisMixinException):
        Strict.all()
    with pytest.raises(RedisMixinException):
        Cone.match_for_pk("nope")


# ---------------------------------------------------------------- utils


def test_utils_module_keeps_the_filter_helpers_of_0_3_1(IceCream, r):
    from redis_schematics import utils

    assert set(utils.FILTER_OPS) == {"__gt", "__lt", "__gte", "__lte", "__eq", "__not", "__in", "__exclude"}
    with pytest.deprecated_call():
        groups = utils.group_filters_by_suffix({"amount_kg__gte": 2, "flavour": "mint", "id__in": ["a", "b"]})
    assert groups == {
        "__gt": {},
        "__lt": {},
        "__gte": {"amount_kg": 2},
        "__lte": {},
        "__eq": {"flavour": "mint"},
        "__not": {},
        "__in": {"id": ["a", "b"]},
        "__exclude": {},
    }
    obj = ice_cream(IceCream, "a", "mint", 3)
    with pytest.deprecated_call():
        assert utils.match_filters(obj, groups) is True
    with pytest.deprecated_call():
        assert utils.match_filters(obj, {"__lt": {"amount_kg": 3}}) is False
    with pytest.deprecated_call():  # a missing attribute compares as None, as in 0.3.1
        assert utils.match_filters(obj, {"__eq": {"nothing": None}}) is True
    assert utils.FILTER_OPS["__gt"](3, 2) is True
    import redis_schematics  # 0.3.1 imported the two helpers into the package namespace too

    assert redis_schematics.match_filters is utils.match_filters
    assert redis_schematics.group_filters_by_suffix is utils.group_filters_by_suffix
