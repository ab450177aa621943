"""The local target on the real Azure ML inference server: no mocks."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import joblib
import numpy as np
import psutil
import pytest
import requests
from hypothesis import given, strategies as st
from support.processes import assert_fully_stopped, free_port, port_is_closed, service_pids, wait_until_gone
from support.project import NEVER_READY_SCORE_PY, SCORE_PY

from mnist_aci import scoring
from mnist_aci.errors import DeploymentError, PortInUseError, ServiceCallError, TargetError
from mnist_aci.job import JobOptions, JobResult
from mnist_aci.local._gunicorn_config import HIDDEN_MODULES_ENV, HiddenModules
from mnist_aci.local.server import THREADS_PER_WORKER, ServerProcess
from mnist_aci.local.service import LocalWebservice, start_local_service
from mnist_aci.tutorial import LOCAL_TIMEOUT_S
from mnist_aci.workflow import evaluate_service

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sklearn.multiclass import OneVsRestClassifier

    from mnist_aci.data import Dataset

BOUND_S = 60.0


@pytest.mark.server
def test_end_to_end_predictions_equal_the_in_process_model(
    small_model_file: Path, small_model: OneVsRestClassifier, sample_data: Dataset
) -> None:
    images = sample_data.x_test
    expected = small_model.predict(images)
    service = start_local_service(small_model_file, SCORE_PY, name="e2e")
    try:
        state_at_start = service.state
        assert state_at_start == "Transitioning"
        service.wait_for_deployment(show_output=True)
        assert service.state == "Healthy"
        assert service.scoring_uri.startswith("http://127.0.0.1:")
        pids = service_pids(service)

        assert service.run(input_data=scoring.tutorial_body(images[:50])) == expected[:50].tolist()
        response = requests.post(
            service.scoring_uri, scoring.tutorial_body(images[:20]), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200
        assert response.json() == expected[:20].tolist()
        np.testing.assert_array_equal(scoring.predict(service, images, chunk_rows=128), expected)
        np.testing.assert_array_equal(scoring.predict_tutorial(service, images), expected)
        assert scoring.call_http(service.scoring_uri, images[:3]) == expected[:3].tolist()
        assert "Users's init has completed successfully" in service.get_logs()
    finally:
        service.delete()
    assert_fully_stopped(service, pids)
    assert "Handling signal: term" in service.get_logs()


def test_model_dir_is_laid_out_as_azure_does(live_service: LocalWebservice) -> None:
    stage = live_service.stage_dir
    assert (stage / "azureml-models" / "sklearn_mnist" / "1" / "sklearn_mnist_model.pkl").is_file()
    assert sorted(p.name for p in (stage / "app").iterdir()) == ["score.py", "score_io.py", "swagger3.json"]
    worker = psutil.Process(live_service.pid).children()[0]
    assert worker.environ()["AZUREML_MODEL_DIR"].endswith("azureml-models/sklearn_mnist/1")


@pytest.mark.server
def test_context_manager_stops_everything_even_on_error(small_model_file: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="user code failed"),
        start_local_service(small_model_file, SCORE_PY) as service,
    ):
        service.wait_for_deployment()
        pids = service_pids(service)
        raise RuntimeError("user code failed")
    assert_fully_stopped(service, pids)


@pytest.fixture(
    params=[
        ("not-a-pickle", "Error: "),
        ("truncated", "ValueError: EOF"),
        ("not-a-model", "TypeError: "),
    ],
    ids=lambda param: param[0],
)
def bad_model(request: pytest.FixtureRequest, tmp_path: Path, small_model_file: Path) -> tuple[Path, str]:
    kind, cause = request.param
    target = tmp_path / "sklearn_mnist_model.pkl"
    if kind == "not-a-pickle":
        target.write_bytes(b"this is not a pickle")
    elif kind == "truncated":
        content = small_model_file.read_bytes()
        target.write_bytes(content[: len(content) // 2])
    else:
        joblib.dump({"weights": [1, 2, 3]}, target)
    return target, cause


@pytest.mark.server
def test_bad_model_file_is_one_clear_error_with_the_log_tail(bad_model: tuple[Path, str]) -> None:
    model_file, cause = bad_model
    service = start_local_service(model_file, SCORE_PY, name="broken")
    started = time.monotonic()
    with pytest.raises(DeploymentError) as info:
        service.wait_for_deployment(timeout_sec=BOUND_S)
    assert time.monotonic() - started < BOUND_S
    first_line = str(info.value).splitlines()[0]
    assert "exited with code 3 while starting" in first_line
    assert cause in first_line
    assert "last lines of the server log" in str(info.value)
    assert service.state == "Failed"
    assert wait_until_gone({service.pid}) == set()


@pytest.mark.server
def test_not_a_model_names_what_the_file_holds(tmp_path: Path) -> None:
    target = tmp_path / "sklearn_mnist_model.pkl"
    joblib.dump({"weights": [1]}, target)
    service = start_local_service(target, SCORE_PY, name="dict")
    with pytest.raises(DeploymentError, match="holds a dict, not a fitted model with predict"):
        service.wait_for_deployment(timeout_sec=BOUND_S)


@pytest.mark.server
def test_server_killed_during_an_evaluation_fails_fast_and_writes_no_result(
    small_model_file: Path, sample_data: Dataset, tmp_path: Path
) -> None:
    service = start_local_service(small_model_file, SCORE_PY, name="killed-eval")
    service.wait_for_deployment()
    many = dataclasses.replace(sample_data, x_test=np.tile(sample_data.x_test, (100, 1)))
    many = dataclasses.replace(many, y_test=np.tile(sample_data.y_test, 100))
    killed = threading.Event()

    def kill_once_scoring() -> None:
        deadline = time.monotonic() + BOUND_S
        while "POST /score" not in service.get_logs(50) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(service.pid, signal.SIGKILL)
        killed.set()

    killer = threading.Thread(target=kill_once_scoring)
    started = time.monotonic()
    killer.start()
    try:
        with pytest.raises(ServiceCallError, match=r"stopped \(server exit code -9\)"):
            evaluate_service(service, many, JobOptions(output_dir=tmp_path / "out"), JobResult())
    finally:
        killer.join()
        service.delete()
    assert killed.is_set()
    assert time.monotonic() - started < BOUND_S
    assert not (tmp_path / "out").exists()


@pytest.mark.server
def test_two_workers_are_two_processes_serving_concurrent_clients(
    small_model_file: Path, small_model: OneVsRestClassifier, sample_data: Dataset
) -> None:
    images = sample_data.x_test[:40]
    with start_local_service(small_model_file, SCORE_PY, name="two", workers=2) as service:
        service.wait_for_deployment()
        assert len(psutil.Process(service.pid).children()) == 2
        with ThreadPoolExecutor(max_workers=4) as pool:
            labels = list(pool.map(lambda image: service.run(scoring.tutorial_body(image[None]))[0], images))
    assert labels == small_model.predict(images).tolist()


def test_zero_workers_is_refused_before_starting(small_model_file: Path) -> None:
    with pytest.raises(TargetError, match="workers >= 1"):
        start_local_service(small_model_file, SCORE_PY, workers=0)


def test_missing_model_file_is_refused_before_starting(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match="does not exist"):
        start_local_service(tmp_path / "none.pkl", SCORE_PY)


@pytest.mark.server
def test_import_error_in_score_py_is_reported(tmp_path: Path, small_model_file: Path) -> None:
    script = tmp_path / "score.py"
    script.write_text("import sklearn.externals.joblib\n\ndef init():\n    pass\n\ndef run(raw_data):\n    return []\n")
    service = start_local_service(small_model_file, script, name="bad-import")
    with pytest.raises(DeploymentError, match=r"sklearn\.externals") as info:
        service.wait_for_deployment(timeout_sec=BOUND_S)
    assert str(info.value).endswith("Fix score.py or the model file (see the log above), then deploy again.")


@pytest.mark.server
def test_a_time_out_while_the_server_still_starts_advises_a_longer_one(tmp_path: Path, small_model_file: Path) -> None:
    """The server has not crashed: it needs more time, not another score.py (init() here never returns)."""
    script = tmp_path / "score.py"
    script.write_text(NEVER_READY_SCORE_PY)
    service = start_local_service(small_model_file, script, name="slow")
    with pytest.raises(DeploymentError) as info:
        service.wait_for_deployment(timeout_sec=0.5)
    message = str(info.value)
    assert message.startswith("Local deployment 'slow' failed: not healthy after 0.5 s; its server was still starting")
    assert message.endswith(
        f"Give it longer with timeout_sec=<seconds> (default: {LOCAL_TIMEOUT_S:g} s), then deploy again."
    )
    assert "Fix score.py" not in message
    assert wait_until_gone({service.pid}) == set()


def test_the_worker_leaves_out_pandas_and_pyarrow_and_uses_one_malloc_arena(live_service: LocalWebservice) -> None:
    worker = psutil.Process(live_service.pid).children()[0]
    packages = {part for region in worker.memory_maps() for part in Path(region.path).parts}
    assert "numpy" in packages  # the listing sees the packages the worker loaded
    assert "pandas" not in packages
    assert "pyarrow" not in packages
    assert worker.environ()["MALLOC_ARENA_MAX"] == "1"


@pytest.mark.server
def test_a_score_py_that_needs_a_left_out_package_says_how_to_allow_it(
    tmp_path: Path, small_model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "score.py"
    script.write_text("import pandas\n\ndef init():\n    pass\n\ndef run(raw_data):\n    return []\n")
    service = start_local_service(small_model_file, script, name="needs-pandas")
    with pytest.raises(
        DeploymentError, match=f"leaves pandas out to save memory.*set {HIDDEN_MODULES_ENV} to the empty"
    ):
        service.wait_for_deployment(timeout_sec=BOUND_S)
    monkeypatch.setenv(HIDDEN_MODULES_ENV, "")
    with start_local_service(small_model_file, script, name="with-pandas") as allowed:
        allowed.wait_for_deployment(timeout_sec=BOUND_S)
        worker = psutil.Process(allowed.pid).children()[0]
        assert any("pandas" in Path(region.path).parts for region in worker.memory_maps())


module_names = st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), min_size=1, max_size=3).map(".".join)


@given(hidden=st.sets(st.sampled_from(["pandas", "pyarrow", "numpy", "a"]), max_size=3), name=module_names)
def test_hidden_modules_refuse_exactly_the_hidden_packages_and_their_submodules(hidden: set[str], name: str) -> None:
    finder = HiddenModules(hidden)
    if name.split(".")[0] in hidden:
        with pytest.raises(ModuleNotFoundError, match=HIDDEN_MODULES_ENV) as refused:
            finder.find_spec(name)
        assert refused.value.name == name
    else:
        assert finder.find_spec(name) is None


def test_port_already_taken_is_a_clear_error(small_model_file: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"Port {port} on 127.0.0.1 is already in use"):
            start_local_service(small_model_file, SCORE_PY, port=port)


@pytest.mark.server
def test_server_killed_mid_request_fails_fast_and_clearly(small_model_file: Path, sample_data: Dataset) -> None:
    service = start_local_service(small_model_file, SCORE_PY, name="killed")
    service.wait_for_deployment()
    body = scoring.tutorial_body(sample_data.x_test)

    def body_killing_the_server_halfway() -> Iterator[bytes]:  # mid-request by construction, however fast the server is
        yield body[: len(body) // 2]
        os.killpg(service.pid, signal.SIGKILL)
        yield body[len(body) // 2 :]

    started = time.monotonic()
    try:
        with pytest.raises(ServiceCallError) as info:
            streamed = body_killing_the_server_halfway()
            service.run(streamed)  # type: ignore[arg-type]  # a streamed body, beyond run()'s typed str | bytes
    finally:
        service.delete()
    assert time.monotonic() - started < BOUND_S
    assert "stopped (server exit code -9)" in str(info.value)
    assert port_is_closed(service.port)


def test_service_listens_on_loopback_only(live_service: LocalWebservice) -> None:
    connections = psutil.Process(live_service.pid).net_connections(kind="tcp")
    listening = {conn.laddr for conn in connections if conn.status == psutil.CONN_LISTEN}
    assert listening == {("127.0.0.1", live_service.port)}
    assert port_is_closed(live_service.port, host="127.0.0.2")
    others = [
        addr.address
        for addrs in psutil.net_if_addrs().values()
        for addr in addrs
        if addr.family == socket.AF_INET and not addr.address.startswith("127.")
    ]
    for address in others:
        assert port_is_closed(live_service.port, host=address), f"reachable on {address}"


def test_free_port_is_free() -> None:
    port = free_port()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_healthy_service_answers_liveness(live_service: LocalWebservice) -> None:
    assert requests.get(live_service.liveness_uri, timeout=5).text == "Healthy"
    assert json.loads(requests.get(live_service.scoring_uri, timeout=5).text)["error"].startswith("GET")


def staging_folders(folder: Path) -> list[Path]:
    """The local services' staging folders in ``folder`` (a temporary directory given to a child as TMPDIR)."""
    return sorted(folder.glob("mnist-aci-*"))


@pytest.mark.server
@pytest.mark.subprocess
def test_server_and_staging_folder_go_when_the_owner_process_is_killed(small_model_file: Path, tmp_path: Path) -> None:
    owner_script = tmp_path / "owner.py"
    owner_script.write_text(
        "import sys, time\n"
        "from mnist_aci.local.service import start_local_service\n"
        f"service = start_local_service({str(small_model_file)!r}, {str(SCORE_PY)!r}, name='owned')\n"
        "service.wait_for_deployment()\n"
        "print(service.pid, service.port, flush=True)\n"
        "time.sleep(600)\n"
    )
    owner_tmp = tmp_path / "owner-tmp"
    owner_tmp.mkdir()
    owner = subprocess.Popen(
        [sys.executable, str(owner_script)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(owner_tmp)},
    )
    try:
        assert owner.stdout is not None
        pid, port = map(int, owner.stdout.readline().split())
        server = {pid, *(child.pid for child in psutil.Process(pid).children())}
        assert len(staging_folders(owner_tmp)) == 1
        owner.kill()
        owner.wait(timeout=BOUND_S)
        assert wait_until_gone(server) == set()
        assert port_is_closed(port)
        assert staging_folders(owner_tmp) == []  # the master removed it before it exited
    finally:
        owner.kill()


@pytest.mark.server
def test_delete_keeps_the_log_and_removes_the_staging_folder(small_model_file: Path) -> None:
    service = start_local_service(small_model_file, SCORE_PY, name="tidy")
    service.wait_for_deployment()
    stage = service.stage_dir
    assert stage.is_dir()
    service.delete()
    assert not stage.exists()
    assert "Booting worker" in service.get_logs()


def half_sent(port: int, request: bytes) -> socket.socket:
    """A connection that sent ``request`` and then stops, as a client whose network dropped."""
    client = socket.create_connection(("127.0.0.1", port), timeout=BOUND_S)
    client.sendall(request)
    return client


def read_until_closed(client: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded by the socket's timeout)."""
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    return received


STALLED_BODY = (
    b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100000\r\n\r\n" + b'{"data": [[0.5, 0.5'
)
STALLED_HEADERS = b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"


@pytest.mark.server
def test_stalled_clients_block_no_one_and_are_closed_after_the_read_timeout(
    small_model_file: Path, small_model: OneVsRestClassifier, sample_data: Dataset
) -> None:
    """Clients that stop in mid-body or mid-headers hold a thread each, not the service, and only for a while."""
    read_timeout = 10.0
    images = sample_data.x_test[:3]
    with start_local_service(small_model_file, SCORE_PY, name="stalled", client_read_timeout_s=read_timeout) as service:
        service.wait_for_deployment()
        stalled = [half_sent(service.port, STALLED_BODY) for _ in range(THREADS_PER_WORKER - 2)]
        stalled.append(half_sent(service.port, STALLED_HEADERS))
        try:
            started = time.monotonic()
            labels = scoring.post(service.scoring_uri, scoring.npy_body(images), scoring.NPY_TYPE, timeout=5)
            assert time.monotonic() - started < read_timeout / 2
            assert labels == small_model.predict(images).tolist()
            answers = [read_until_closed(client) for client in stalled]
        finally:
            for client in stalled:
                client.close()
        assert time.monotonic() - started < BOUND_S
        for answer in answers[:-1]:
            assert answer.startswith(b"HTTP/1.1 408 ")
            assert b'"error": "the body stopped arriving before its end"' in answer
        assert answers[-1] == b""  # headers never completed: closed without an answer
        assert scoring.post(service.scoring_uri, scoring.npy_body(images), scoring.NPY_TYPE, timeout=5) == labels


@pytest.mark.server
def test_service_started_from_a_thread_outlives_the_thread(
    small_model_file: Path, sample_data: Dataset, small_model: OneVsRestClassifier
) -> None:
    started = []
    thread = threading.Thread(
        target=lambda: started.append(start_local_service(small_model_file, SCORE_PY, name="thread"))
    )
    thread.start()
    thread.join()
    with started[0] as service:
        service.wait_for_deployment()
        assert (
            service.run(scoring.tutorial_body(sample_data.x_test[:2]))
            == small_model.predict(sample_data.x_test[:2]).tolist()
        )


@pytest.fixture
def bare_service(tmp_path: Path) -> Iterator[Callable[..., LocalWebservice]]:
    """A LocalWebservice around a plain child process, to drive its stopped/lost decision."""
    made: list[LocalWebservice] = []

    def make(command: list[str], **timeouts: float) -> LocalWebservice:
        read_end, write_end = os.pipe()
        os.close(read_end)
        process = subprocess.Popen(command, start_new_session=True)
        made.append(LocalWebservice("bare", ServerProcess(process, tmp_path, write_end), free_port(), **timeouts))
        return made[-1]

    yield make
    for service in made:
        service.delete()


@pytest.mark.subprocess
def test_a_lost_connection_waits_a_bounded_moment_for_the_server_exit(
    bare_service: Callable[..., LocalWebservice],
) -> None:
    ready_to_exit = bare_service([sys.executable, "-c", "import sys; sys.stdin.close(); sys.exit(7)"])
    stopped = ready_to_exit.stopped_error(ServiceCallError("lost"))
    assert stopped is not None
    assert "stopped (server exit code 7)" in str(stopped)
    assert ready_to_exit.state == "Failed"


@pytest.mark.subprocess
def test_a_lost_connection_to_a_live_server_stays_a_lost_connection(
    bare_service: Callable[..., LocalWebservice],
) -> None:
    alive = bare_service([sys.executable, "-c", "import time; time.sleep(600)"], exit_grace_s=0.2)
    assert alive.stopped_error(ServiceCallError("lost")) is None
    assert alive.stopped_error(ServiceCallError("answered 500", status=500)) is None
    assert alive.state == "Transitioning"


INTERRUPT_ANOTHER_THREAD = """
import signal, sys, threading
from pathlib import Path
from mnist_aci.local.service import start_local_service

service = start_local_service(sys.argv[1], sys.argv[2], name="sigint")
service.wait_for_deployment()
main_stat = Path(f"/proc/self/task/{threading.get_native_id()}/stat")

def interrupt_from_this_thread():
    while main_stat.read_text().rsplit(")", 1)[1].split()[0] != "S":
        pass  # until the main thread sleeps in its wait
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # lands on this thread, not the main one

threading.Thread(target=interrupt_from_this_thread, daemon=True).start()
try:
    service.serve_until_stopped()
except KeyboardInterrupt:
    print("interrupted", service.state)
"""


@pytest.mark.server
@pytest.mark.subprocess
@pytest.mark.skipif(sys.platform != "linux", reason="watches the main thread's state in Linux's /proc")
def test_ctrl_c_delivered_to_another_thread_still_stops_serving(small_model_file: Path) -> None:
    """Linux may hand SIGINT to any thread; the main thread's wait must still notice it."""
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPT_ANOTHER_THREAD, str(small_model_file), str(SCORE_PY)],
        capture_output=True,
        text=True,
        timeout=BOUND_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "interrupted Deleted"
