from __future__ import annotations

from kubernetes import client, config

from tests.fakekube import FakeKube


def test_crud_and_pod_lifecycle(fakekube: FakeKube) -> None:
    api = config.new_client_from_config(config_file=str(fakekube.kubeconfig))
    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="a"), data={"k": "v"})
    )
    assert core.read_namespaced_config_map("a", "default").data == {"k": "v"}
    core.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "p"},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    fakekube.wait_for(
        lambda: core.read_namespaced_pod("p", "default").status.phase == "Succeeded", timeout=5
    )
