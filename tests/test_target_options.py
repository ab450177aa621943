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
from mnist_aci.azure_v2.target import EndpointOptions, EndpointTarget
from mnist_aci.errors import OptionError, TargetError
from mnist_aci.job import JobOptions
from mnist_aci.local.target import LocalOptions
from mnist_aci.target import TargetOptions
from mnist_aci.targets import TARGET_TABLE, not_taken, target_named

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
        options.port = 9090  # type: ignore[misc]
    with pytest.raises(TypeError):
        LocalOptions(8080)  # type: ignore[misc, arg-type]


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


def test_the_rollout_data_of_the_endpoints_options_is_kept_and_refused_when_given_twice() -> None:
    data = (np.zeros((2, 784)), np.array([3, 7]))
    target = EndpointTarget()

    kept = target.prepare(EndpointOptions(rollout_data=data), mock.sentinel.ml_client)

    assert kept.rollout_data is data
    assert kept.ml_client is mock.sentinel.ml_client
    assert target.prepare(EndpointOptions(), mock.sentinel.ml_client, rollout_data=data).rollout_data is data
    with pytest.raises(OptionError, match="rollout_data was given twice"):
        target.prepare(EndpointOptions(rollout_data=data), mock.sentinel.ml_client, rollout_data=(data[0], data[1]))


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
