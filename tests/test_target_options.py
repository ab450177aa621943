"""Each target's options: typed, checked once when they are built, and refused by name on another target."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, strategies as st

from mnist_aci.azure_v1.target import AzureV1Options, AzureV1Target
from mnist_aci.azure_v2.service import REQUEST_TIMEOUT_MS
from mnist_aci.azure_v2.skus import FAMILIES, MAX_REQUEST_TIMEOUT_MS
from mnist_aci.azure_v2.target import EndpointOptions, EndpointTarget
from mnist_aci.errors import OptionError, TargetError
from mnist_aci.job import JobOptions
from mnist_aci.local.target import LocalOptions
from mnist_aci.scoring import ServiceEndpoint
from mnist_aci.target_base import RunInputs, TargetOptions
from mnist_aci.targets import TARGET_TABLE, not_taken, target_named, with_given

numbers = st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=True, allow_infinity=True), st.booleans())


@given(numbers)
def test_workers_are_a_whole_number_of_at_least_one(workers: float) -> None:
    if isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1:
        assert LocalOptions(workers=workers).workers == workers
    else:
        with pytest.raises(OptionError) as refused:
            LocalOptions(workers=workers)  # type: ignore[arg-type]  # a float: refused at run time, as tested
        assert refused.value.option == "workers"
        assert str(workers) in str(refused.value)


@given(numbers)
def test_min_accuracy_is_an_accuracy(value: float) -> None:
    if not isinstance(value, bool) and 0 <= value <= 1:
        assert EndpointOptions(min_accuracy=value).min_accuracy == value
    else:
        with pytest.raises(OptionError, match="min_accuracy is an accuracy between 0 and 1"):
            EndpointOptions(min_accuracy=value)


@given(st.one_of(st.none(), numbers))
def test_a_time_out_is_a_positive_number_of_seconds(timeout: float | None) -> None:
    valid = timeout is None or (not isinstance(timeout, bool) and timeout > 0)
    for options_type in (LocalOptions, AzureV1Options, EndpointOptions):
        if valid:
            assert options_type(timeout_sec=timeout).timeout_sec == timeout
        else:
            with pytest.raises(OptionError, match="timeout_sec must be a number of seconds > 0"):
                options_type(timeout_sec=timeout)


def test_options_are_frozen_and_keyword_only() -> None:
    options = LocalOptions(port=8080)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.port = 9090  # type: ignore[misc]  # frozen: the refusal tested
    with pytest.raises(TypeError):
        LocalOptions(8080)  # type: ignore[misc, arg-type]  # positional: the refusal tested


def test_every_target_has_options_derived_from_the_shared_ones() -> None:
    for name, target in TARGET_TABLE.items():
        assert target.name == name
        assert issubclass(target.options_type, TargetOptions)
        assert {"keep_failed", "timeout_sec"} <= set(target.options_type.field_names())


def test_the_auth_option_picks_the_auth_of_the_sdk_v1_deployment_configuration() -> None:
    aci, aks = target_named("aci"), target_named("aks")
    assert isinstance(aci, AzureV1Target)
    assert isinstance(aks, AzureV1Target)
    auths: tuple[Literal["token"] | None, ...] = (None, "token")
    assert aci.deployment_config(AzureV1Options()).auth_enabled is False  # ACI's default: no key
    assert aci.deployment_config(AzureV1Options(auth="key")).auth_enabled is True
    default, token = (aks.deployment_config(AzureV1Options(compute_target="k", auth=auth)) for auth in auths)
    assert (default.auth_enabled, default.token_auth_enabled) == (True, False)  # AKS's default: keys
    assert (token.auth_enabled, token.token_auth_enabled) == (False, True)
    with pytest.raises(OptionError, match=r"^auth must be key on target='aci' \(token auth is AKS only\), got 'token'"):
        aci.check(AzureV1Options(auth="token"))


@pytest.mark.parametrize(
    ("target", "option", "said"),
    [
        ("aci", "workers", "is for target='local' only: ACI and AKS run one worker per core they are given"),
        ("endpoint", "auth", "is for target='aci' or target='aks' only: an endpoint always needs a key"),
        ("local", "instance_type", "is for target='endpoint' only"),
        ("local", "colour", "is an option of no target"),
    ],
)
def test_an_option_a_target_does_not_take_names_the_targets_that_do(target: str, option: str, said: str) -> None:
    assert not_taken(target_named(target), option) == said


def test_an_unknown_target_names_the_known_ones() -> None:
    with pytest.raises(TargetError, match="Unknown target 'docker': choose one of local, aci, aks, endpoint"):
        target_named("docker")


def test_nan_is_no_accuracy() -> None:
    with pytest.raises(OptionError):
        EndpointOptions(min_accuracy=math.nan)


def test_the_endpoint_rolls_out_with_its_own_rollout_data_else_the_runs_test_set_loaded_only_then() -> None:
    data = (np.zeros((2, 784)), np.array([3, 7]))
    target = EndpointTarget()
    test_set = mock.Mock(return_value=data)

    with mock.patch("mnist_aci.azure_v2.service.endpoint_exists", autospec=True) as exists:
        exists.side_effect = lambda _, name: name == "live-ep"
        kept = target.prepare(EndpointOptions(rollout_data=data), RunInputs(mock.sentinel.ml_client, test_set))
        new = target.prepare(EndpointOptions(name="new-ep"), RunInputs(mock.sentinel.ml_client, test_set))
        existing = target.prepare(EndpointOptions(name="live-ep"), RunInputs(mock.sentinel.ml_client, test_set))
        offered_none = target.prepare(EndpointOptions(name="live-ep"), RunInputs(mock.sentinel.ml_client))

    assert (kept.rollout_data, kept.ml_client) == (data, mock.sentinel.ml_client)
    assert new.rollout_data is None
    assert existing.rollout_data is data
    assert offered_none.rollout_data is None
    test_set.assert_called_once_with()


def test_an_option_given_beside_the_targets_options_is_used_refused_twice_or_not_used(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="mnist_aci")
    data = (np.zeros((2, 784)), np.array([3, 7]))
    endpoint, local = target_named("endpoint"), target_named("local")

    given_data = with_given(endpoint, EndpointOptions(), {"rollout_data": data})
    assert isinstance(given_data, EndpointOptions)
    assert given_data.rollout_data is data
    with pytest.raises(OptionError, match="rollout_data was given twice"):
        with_given(endpoint, EndpointOptions(rollout_data=data), {"rollout_data": (data[0], data[1])})
    assert with_given(local, LocalOptions(), {"deployment_config": mock.sentinel.config}) == LocalOptions()
    assert with_given(endpoint, EndpointOptions(), {"deployment_config": mock.sentinel.config}) == EndpointOptions()
    with pytest.raises(OptionError, match="deploymnet_config is an option of no target"):
        with_given(local, LocalOptions(), {"deploymnet_config": mock.sentinel.config})

    assert "deployment_config is for target='aci' or target='aks' only; not used on target='local'." in caplog.text
    assert "the ACI configuration does not apply to a managed online endpoint" in caplog.text


def test_a_service_known_by_its_scoring_uri_is_found_by_default_and_cannot_be_deleted() -> None:
    local = target_named("local")
    found = local.existing_service(None, "http://127.0.0.1:9/score")
    assert found == ServiceEndpoint("http://127.0.0.1:9/score")
    with pytest.raises(TargetError, match=r"http://127.0.0.1:9/score is not a service of target 'local'"):
        local.delete(found)


def test_the_options_of_every_target_become_the_targets_own() -> None:
    options = JobOptions(target="aci", target_options=TargetOptions(timeout_sec=60, keep_failed=True))
    assert options.target_options == AzureV1Options(timeout_sec=60, keep_failed=True)
    assert JobOptions().target_options == LocalOptions()


@given(numbers)
def test_the_regularization_rate_is_a_number_above_zero(value: float) -> None:
    if not isinstance(value, bool) and 0 < value < math.inf:
        assert JobOptions(regularization=value).regularization == value
    else:
        with pytest.raises(OptionError, match=r"regularization must be a number > 0 \(C = 1 / regularization\)"):
            JobOptions(regularization=value)


@given(numbers)
def test_the_seed_is_a_whole_number_of_at_least_zero(value: float) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        assert JobOptions(seed=value).seed == value
    else:
        with pytest.raises(OptionError, match="seed must be a whole number >= 0"):
            JobOptions(seed=value)  # type: ignore[arg-type]  # a float: refused at run time, as tested


@given(st.one_of(st.integers(-100, 100), st.booleans(), st.floats(allow_nan=True), st.text(max_size=3)))
def test_an_instance_count_is_a_whole_number_from_1_to_azures_50(count: bool | float | int | str) -> None:
    if isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= 50:
        assert EndpointOptions(instance_count=count).instance_count == count
    else:
        with pytest.raises(OptionError, match="instance_count must be a whole number from 1 to 50") as refused:
            EndpointOptions(instance_count=count)  # type: ignore[arg-type]  # not an int: refused at run time, as tested
        assert refused.value.option == "instance_count"


@pytest.mark.parametrize(
    ("instance_type", "accepted"),
    [
        ("Standard_DS1_v2", True),
        ("STANDARD_F2S_V2", True),  # Azure's SKU names are case-insensitive
        ("Standard_E2s_v3", True),
        ("Standard_ND96isr_H100_v5", True),
        ("Standard_B2s", False),  # a VM size Azure has, but not for managed online endpoints
        ("Standard_DS1", False),
        ("", False),
        (None, False),
    ],
)
def test_an_instance_type_is_one_of_the_managed_online_endpoints_skus(
    instance_type: str | None, accepted: bool
) -> None:
    if accepted:
        assert instance_type is not None
        assert EndpointOptions(instance_type=instance_type).instance_type == instance_type
    else:
        with pytest.raises(OptionError, match="instance_type must be a VM size of Microsoft's managed online"):
            EndpointOptions(instance_type=instance_type)  # type: ignore[arg-type]  # None: refused at run time, as tested


LISTED_SKUS = sorted(sku for skus in FAMILIES.values() for sku, _cores in skus)


@given(
    st.one_of(
        st.sampled_from(LISTED_SKUS).flatmap(lambda sku: st.sampled_from([sku, sku.upper(), sku.lower(), sku + "x"])),
        st.text(alphabet="Standard_DSEFLNCVvas0123456789", max_size=20),
    )
)
def test_any_text_is_an_instance_type_exactly_when_the_sku_list_has_it(instance_type: str) -> None:
    if instance_type.lower() in {sku.lower() for sku in LISTED_SKUS}:
        assert EndpointOptions(instance_type=instance_type).instance_type == instance_type
    else:
        with pytest.raises(OptionError, match="instance_type must be a VM size"):
            EndpointOptions(instance_type=instance_type)


def test_the_request_time_out_the_package_asks_for_is_within_azures_180_s() -> None:
    assert 0 < REQUEST_TIMEOUT_MS <= MAX_REQUEST_TIMEOUT_MS == 180_000
