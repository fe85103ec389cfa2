"""The AMI lifecycle playbook against a local moto server: real amazon.aws modules, real EC2 API calls."""

import os
import socket
import subprocess
import time
from pathlib import Path

import boto3
import pytest

from tests.helpers import run

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def moto(testbed):
    port = free_port()
    env = dict(testbed, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true")
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    yield {"url": url, "env": env}
    server.terminate()
    server.wait(timeout=10)


def ec2(moto, region=REGION):
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=moto["url"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def bake(client, instance, line, n):
    """An AMI of a line, tagged as Packer tags it (CreateImage with tags fails on moto: tag after)."""
    image = client.create_image(InstanceId=instance, Name=f"awsome-ml-{line}-{n}")["ImageId"]
    client.create_tags(
        Resources=[image],
        Tags=[
            {"Key": "ml_cluster:collection", "Value": "awsome.ml_cluster"},
            {"Key": "ml_cluster:line", "Value": line},
        ],
    )
    time.sleep(1.1)  # creation dates have one-second resolution
    return image


def snapshots_of(client, image):
    described = client.describe_images(ImageIds=[image])["Images"][0]
    return [m["Ebs"]["SnapshotId"] for m in described["BlockDeviceMappings"] if "Ebs" in m]


@pytest.mark.integration
def test_keep_newest_share_and_copy(moto, testbed):
    client = ec2(moto)
    base = client.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = client.run_instances(ImageId=base, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    gpu = [bake(client, instance, "pcluster-gpu-x86_64", n) for n in range(4)]
    cpu = [bake(client, instance, "ubuntu2204-cpu-x86_64", n) for n in range(2)]
    foreign = client.create_image(InstanceId=instance, Name="not-ours")["ImageId"]
    retired_snapshots = [s for image in gpu[:2] for s in snapshots_of(client, image)]
    assert retired_snapshots

    run(
        [
            str(ROOT / ".venv" / "bin" / "ansible-playbook"),
            str(ROOT / "playbooks" / "ami-lifecycle.yml"),
            "-e",
            f"ami_lifecycle_endpoint_url={moto['url']}",
            "-e",
            "ami_lifecycle_keep=2",
            "-e",
            '{"ami_lifecycle_share_accounts": ["123456789012"], "ami_lifecycle_copy_regions": ["us-west-2"]}',
        ],
        env=moto["env"],
        cwd=ROOT,
    )

    left = {i["ImageId"] for i in client.describe_images(Owners=["self"])["Images"]}
    assert set(gpu[2:]) | set(cpu) | {foreign} <= left
    assert not set(gpu[:2]) & left, "the two oldest of the gpu line are retired"
    remaining = {s["SnapshotId"] for s in client.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert not set(retired_snapshots) & remaining, "their snapshots went with them"

    shared = client.describe_image_attribute(ImageId=gpu[3], Attribute="launchPermission")["LaunchPermissions"]
    assert {"UserId": "123456789012"} in shared

    copies = ec2(moto, "us-west-2").describe_images(Owners=["self"])["Images"]
    lines = sorted(t["Value"] for image in copies for t in image.get("Tags", []) if t["Key"] == "ml_cluster:line")
    assert lines == ["pcluster-gpu-x86_64", "ubuntu2204-cpu-x86_64"]
