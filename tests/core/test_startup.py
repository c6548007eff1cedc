"""Why a driver has not started, and whether to stop waiting: pure judgements over objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nfk8s import runs, startup
from nfk8s.models import RunRecord, RunStatus

CREATED = datetime(2026, 11, 26, 3, 0, 0, tzinfo=UTC)
IMAGE = "nextflow/nextflow:bad"


def job(timeout: int | None = 60) -> dict[str, Any]:
    annotations = {startup.START_TIMEOUT_ANNOTATION: str(timeout)} if timeout else {}
    return {
        "metadata": {
            "name": "nfk8s-r1",
            "uid": "u1",
            "creationTimestamp": CREATED.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "annotations": annotations,
        },
        "status": {"active": 1},
    }


def pod(
    *,
    waiting: tuple[str, str] | None = None,
    running: bool = False,
    unschedulable: str | None = None,
    init_exit: int | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Running" if running else "Pending", "conditions": []}
    if unschedulable:
        status["conditions"].append(
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": unschedulable,
            }
        )
    state: dict[str, Any] = {"waiting": {"reason": "PodInitializing"}}
    if waiting:
        state = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
    if running:
        state = {"running": {"startedAt": "2026-11-26T03:00:05Z"}}
    status["containerStatuses"] = [{"name": "nextflow", "state": state}]
    if init_exit is not None:
        status["phase"] = "Failed"
        status["initContainerStatuses"] = [
            {"name": "stage", "state": {"terminated": {"exitCode": init_exit, "reason": "Error"}}}
        ]
    return {
        "metadata": {"name": "nfk8s-r1-abcde", "creationTimestamp": "2026-11-26T03:00:01Z"},
        "spec": {"containers": [{"name": "nextflow", "image": IMAGE}]},
        "status": status,
    }


def failed_create(message: str, count: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": f"e{count}", "uid": f"e{count}"},
        "involvedObject": {"kind": "Job", "name": "nfk8s-r1"},
        "reason": "FailedCreate",
        "type": "Warning",
        "message": message,
        "count": count,
        "lastTimestamp": "2026-11-26T03:00:02Z",
    }


def test_a_running_driver_has_no_reason_to_wait_even_past_the_deadline():
    late = CREATED + timedelta(hours=1)
    assert startup.judge(job(), [pod(running=True)]) is None
    assert startup.give_up(job(), [pod(running=True)], late) is None


def test_an_image_pull_back_off_names_the_image_and_heals_until_the_deadline():
    stuck = startup.judge(job(), [pod(waiting=("ImagePullBackOff", "Back-off pulling image"))])
    assert stuck is not None and stuck.heals
    assert stuck.text == f"ImagePullBackOff: {IMAGE}: Back-off pulling image"
    waiting = [pod(waiting=("ImagePullBackOff", "Back-off pulling image"))]
    assert startup.give_up(job(), waiting, CREATED + timedelta(seconds=59)) is None
    late = startup.give_up(job(), waiting, CREATED + timedelta(seconds=60))
    assert (
        late is not None and late.reason == "ImagePullBackOff" and "start timeout 1m" in late.text
    )


def test_an_invalid_image_name_gives_up_at_once():
    waiting = [pod(waiting=("InvalidImageName", 'couldn\'t parse image name "Bad"'))]
    stuck = startup.give_up(job(), waiting, CREATED)
    assert stuck is not None and stuck.reason == "InvalidImageName" and not stuck.heals


def test_unschedulable_shows_the_scheduler_message():
    message = "0/3 nodes are available: 3 Insufficient memory."
    stuck = startup.judge(job(), [pod(unschedulable=message)])
    assert stuck == startup.Stuck("Unschedulable", message)


def test_a_failed_init_container_gives_up_at_once_and_names_its_exit_code():
    stuck = startup.give_up(job(), [pod(init_exit=3)], CREATED)
    assert stuck is not None and not stuck.heals and stuck.container == "stage"
    assert "exited with code 3" in stuck.text
    with_log = startup.with_log(stuck, ["copying", "cp: no space left on device"])
    assert with_log.text.endswith("copying | cp: no space left on device")


def test_a_failed_create_heals_once_but_not_when_the_same_refusal_repeats():
    first = 'Error creating: pods "nfk8s-r1-aaaaa" is forbidden: exceeded quota: q'
    again = 'Error creating: pods "nfk8s-r1-bbbbb" is forbidden: exceeded quota: q'
    once = startup.judge(job(), [], [failed_create(first)])
    assert once is not None and once.reason == "FailedCreate" and once.heals
    twice = startup.give_up(
        job(), [], CREATED, events=[failed_create(first), failed_create(again, 2)]
    )
    assert twice is not None and not twice.heals and "exceeded quota" in twice.text


def test_an_unbound_work_claim_is_named_when_the_scheduler_waits_for_it():
    message = "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    pvc = {"metadata": {"name": "nfk8s-work"}, "status": {"phase": "Pending"}}
    stuck = startup.judge(job(), [pod(unschedulable=message)], pvc=pvc)
    assert (
        stuck is not None
        and stuck.text == "PersistentVolumeClaim: nfk8s-work is Pending, not Bound"
    )


def test_no_pod_and_no_event_times_out_on_the_runs_own_timeout_not_the_default():
    assert startup.give_up(job(timeout=60), [], CREATED + timedelta(seconds=30)) is None
    stuck = startup.give_up(job(timeout=60), [], CREATED + timedelta(seconds=61))
    assert stuck is not None and stuck.reason == "StartTimeout"
    assert startup.give_up(job(timeout=None), [], CREATED + timedelta(seconds=61)) is None


def test_a_record_of_a_driver_that_never_started_exits_7():
    record = RunRecord(
        run_id="r1",
        status=RunStatus.FAILED,
        reason=startup.Stuck("ImagePullBackOff", IMAGE).record_reason(),
    )
    assert record.reason == f"driver did not start: ImagePullBackOff: {IMAGE}"
    assert runs.exit_code_for(record) == 7
    assert runs.exit_code_for(RunRecord(run_id="r1", status=RunStatus.FAILED, reason="x")) == 1
