"""The main job on the local default (tests/testbed/demo.sh, `make demo`): a three-node Slurm cluster
of containers converged twice (the second converge changes nothing), the test cases staged, the FSDP
benchmark run through real Slurm on both compute nodes with torchrun on the CPU, and the collective
sweep; then the reports' figures are checked for presence and plausibility, and bad input and a
failing job are refused with messages that name the problem."""

import hashlib
import json
import math
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import run

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ["-i", str(ROOT / "inventories" / "local")]
STANDIN = ROOT / "tests" / "testbed" / "standins" / "nccl-tests" / "perf.py"
COMPUTE = ("ml-c1", "ml-c2")
DEFAULTS = yaml.safe_load((ROOT / "roles" / "versions" / "defaults" / "main.yml").read_text())
DEFAULTS_PYTORCH_VENV = yaml.safe_load((ROOT / "roles" / "pytorch" / "defaults" / "main.yml").read_text())[
    "pytorch_venv"
]


@pytest.fixture(scope="module")
def demo(testbed, tmp_path_factory, keep_artifacts):
    reports = tmp_path_factory.mktemp("reports")
    # A cluster from an earlier run would hide what a first converge does: start from new nodes.
    run([str(ROOT / "tests" / "testbed" / "cluster.sh"), "down"], env=testbed)
    # The cluster stays up for the refusal tests below, and is removed after them.
    env = dict(testbed, AWSOME_DEMO_KEEP="1", AWSOME_REPORT_DIR=str(reports))
    try:
        result = run([str(ROOT / "tests" / "testbed" / "demo.sh")], env=env, cwd=ROOT)
        fsdp_md, nccl_md, validate_md = result.stdout.split()[-3:]
        yield {
            "env": env,
            "reports": reports,
            "fsdp": Path(fsdp_md).with_suffix(".json"),
            "nccl": Path(nccl_md).with_suffix(".json"),
            "validate": Path(validate_md).with_suffix(".json"),
        }
    finally:
        if not keep_artifacts:
            run([str(ROOT / "tests" / "testbed" / "cluster.sh"), "down"], env=testbed)


def playbook_argv(demo, name, *extra):
    override = f"@{demo['env']['AWSOME_CACHE']}/mirror-versions.yml"
    return [
        "ansible-playbook",
        *INVENTORY,
        "-e",
        override,
        "-e",
        f"benchmark_report_dir={demo['reports']}",
        str(ROOT / "playbooks" / name),
        *extra,
    ]


def playbook(demo, name, *extra):
    return run(playbook_argv(demo, name, *extra), env=demo["env"], cwd=ROOT, check=False)


@pytest.mark.integration
def test_fsdp_ran_through_slurm_on_both_compute_nodes(demo):
    report = json.loads(demo["fsdp"].read_text())
    result = report["result"]
    assert report["passed"], report["checks"]
    assert result["nodes"] == ["ml-c1", "ml-c2"] and result["world_size"] == 2 and result["backend"] == "gloo"
    assert result["timed_steps"] == [4, 8] and len(result["losses"]) == 8
    # Two containers sharing two cores: hundreds to a few thousand tokens/s for the 8M model.
    assert 50 < result["tokens_per_s"] < 100_000
    assert result["tflops_per_accelerator"] == pytest.approx(
        result["model"]["flops_per_token"] * result["tokens_per_s"] / 2 / 1e12
    )
    assert abs(result["losses"][0] - math.log(result["model"]["vocab"])) < 1.0
    assert len({r["digest"] for r in result["ranks"]}) == 2
    assert report["versions"]["ml-c1"]["torch"].startswith("2.13.0") and report["versions"]["ml-c2"]["slurm"]
    assert (demo["fsdp"].parent / "fsdp.png").read_bytes()[:4] == b"\x89PNG"
    assert "**PASSED**" in demo["fsdp"].with_suffix(".md").read_text()


@pytest.mark.integration
def test_collective_sweep_is_judged_at_one_size(demo):
    report = json.loads(demo["nccl"].read_text())
    assert report["passed"], report["checks"]
    runs = {r["collective"]: r for r in report["runs"]}
    assert sorted(runs) == ["all_gather", "all_reduce", "alltoall", "reduce_scatter"]
    for r in runs.values():
        assert r["judged_size"] == 16 << 20 and 0 < r["busbw"] < 100
        assert len(r["run"]["devices"]) == 2
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["all_reduce: data correct"] == "pass"
    assert statuses["all_reduce: busbw against expected"] == "not judged"  # no figure for containers


@pytest.mark.integration
def test_bad_option_is_refused_before_any_job(demo):
    result = playbook(demo, "benchmark_nccl.yml", "-e", "benchmark_nccl_mode=fastest")
    assert result.returncode != 0
    assert "benchmark_nccl_mode" in result.stdout and "fastest" in result.stdout
    assert "Submit nccl" not in result.stdout


@pytest.mark.integration
def test_failed_job_fails_the_play_with_its_output(demo):
    result = playbook(demo, "benchmark_fsdp.yml", "-e", '{"benchmark_fsdp_args": ["--warmup-steps", "9"]}')
    assert result.returncode != 0
    assert "ended FAILED" in result.stdout and "must be below --steps" in result.stdout


@pytest.mark.integration
def test_every_node_validates_against_the_version_set(demo):
    summary = json.loads(demo["validate"].read_text())
    assert summary["passed"] and sorted(summary["nodes"]) == ["ml-c1", "ml-c2", "ml-head"]
    for name in ("ml-c1", "ml-c2"):
        checks = {c["name"]: c["status"] for c in summary["nodes"][name]["checks"]}
        assert checks["PyTorch"] == "pass"
        assert checks["GPU count"] == "not judged"  # a container of no known instance type
    head = {c["name"]: c["status"] for c in summary["nodes"]["ml-head"]["checks"]}
    assert head["PyTorch"] == "not judged"
    assert (demo["validate"].parent / "ml-c1.json").is_file()


@pytest.mark.integration
def test_validation_fails_naming_the_nodes_that_differ_from_the_version_set(demo):
    declared = '{"versions_pytorch": {"version": "2.12.0", "index_path": "download.pytorch.org/whl", "locks": {}}}'
    result = run(
        [
            "ansible-playbook",
            *INVENTORY,
            "-e",
            f"validate_report_dir={demo['reports']}/bad",
            "-e",
            declared,
            str(ROOT / "playbooks" / "validate.yml"),
        ],
        env=demo["env"],
        cwd=ROOT,
        check=False,
    )
    assert result.returncode != 0
    assert "ml-c1: PyTorch (the virtualenv imports torch 2.13.0+cpu, declared 2.12.0)" in result.stdout
    assert "ml-c2: PyTorch" in result.stdout and "ml-head:" not in result.stdout.split("Validation failed")[-1]
    assert not json.loads((demo["reports"] / "bad" / "summary.json").read_text())["passed"]


@pytest.fixture
def nccl_tests_standin(demo):
    """nccl-tests binaries on the compute nodes (stand-ins printing the real format), removed after."""
    build = "/opt/nccl-tests/build"
    links = " ".join(f"ln -sf perf.py {c}_perf;" for c in ("all_reduce", "all_gather", "reduce_scatter", "alltoall"))
    for node in COMPUTE:
        run(["docker", "exec", node, "mkdir", "-p", build])
        run(["docker", "cp", str(STANDIN), f"{node}:{build}/perf.py"])
        run(["docker", "cp", str(ROOT / "tests" / "fixtures" / "nccl.py"), f"{node}:{build}/nccl.py"])
        run(["docker", "exec", node, "bash", "-c", f"cd {build} && chmod +x perf.py && {links}"])
    yield
    for node in COMPUTE:
        run(["docker", "exec", node, "rm", "-rf", "/opt/nccl-tests"])


@pytest.mark.integration
def test_nccl_tests_path_is_judged_against_the_expected_table(demo, nccl_tests_standin):
    judged_as_p5 = [
        "-e",
        "benchmark_instance_type=p5.48xlarge",
        "-e",
        "benchmark_nccl_max_bytes=17179869184",
        "-e",
        '{"benchmark_nccl_collectives": ["all_reduce", "all_gather"]}',
    ]
    good = playbook(
        demo,
        "benchmark_nccl.yml",
        *judged_as_p5,
        "-e",
        '{"benchmark_env": {"SRUN_MPI": "none", "STANDIN_PEAK_BUSBW": "480"}}',
    )
    assert good.returncode == 0
    report = json.loads(Path(re.search(r"report (\S+nccl)\.md", good.stdout).group(1) + ".json").read_text())
    assert report["title"].startswith("Collectives (nccl-tests) on 2 x p5.48xlarge")
    statuses = {c["name"]: (c["status"], c["detail"]) for c in report["checks"]}
    assert statuses["all_reduce: busbw against expected"][0] == "pass"
    assert "expected 487 GB/s" in statuses["all_reduce: busbw against expected"][1]
    assert statuses["all_gather: busbw against expected"][0] == "not judged"
    slow = playbook(
        demo,
        "benchmark_nccl.yml",
        *judged_as_p5,
        "-e",
        '{"benchmark_env": {"SRUN_MPI": "none", "STANDIN_PEAK_BUSBW": "300"}}',
    )
    assert slow.returncode != 0
    assert "failed checks: all_reduce: busbw against expected" in slow.stdout and "floor 438.3" in slow.stdout


@pytest.mark.integration
def test_without_slurm_nccl_tests_run_through_mpirun_over_a_hostfile(demo, nccl_tests_standin):
    # Debian's real Open MPI on the first compute node; sbatch looked for where it is not: no Slurm
    apt = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "openmpi-bin"]
    run(["docker", "exec", "-e", "DEBIAN_FRONTEND=noninteractive", "ml-c1", *apt])
    result = playbook(
        demo,
        "benchmark_nccl.yml",
        "-e",
        "benchmark_slurm_bin_dir=/nonexistent",
        "-e",
        "benchmark_nodes=1",
        "-e",
        "benchmark_nccl_max_bytes=1073741824",
        "-e",
        '{"benchmark_nccl_collectives": ["all_reduce"], "benchmark_env": {"STANDIN_PEAK_BUSBW": "480"}}',
    )
    assert result.returncode == 0, result.stdout[-3000:]
    report = json.loads(
        Path(re.search(r"report (\S+nccl-direct-\S+)\.md", result.stdout).group(1) + ".json").read_text()
    )
    assert report["title"].startswith("Collectives (nccl-tests, mpirun) on 1 x")
    job = re.search(r"nccl-(direct-\d{8}T\d{6})", report["title"] + result.stdout).group(1)
    hostfile = run(["docker", "exec", "ml-c1", "cat", f"/fsx/results/nccl-{job}.hosts"]).stdout
    assert hostfile == "ml-c1 slots=64\n"
    output = run(["docker", "exec", "ml-c1", "cat", f"/fsx/results/nccl-{job}.out"]).stdout
    assert "# Collective test starting: all_reduce_perf" in output


@pytest.mark.integration
def test_pyxis_is_built_against_slurm_and_loaded_by_srun_and_slurmd(demo):
    conf = run(["docker", "exec", "ml-c1", "cat", "/etc/slurm/plugstack.conf.d/pyxis.conf"]).stdout
    assert "required /usr/local/lib/slurm/spank_pyxis.so runtime_path=/run/pyxis" in conf
    assert "built against Slurm 22.05" in conf
    # srun lists the plugin's option only when it loaded the plugin; a required plugin that slurmd
    # could not load would fail the job on the compute nodes.
    assert "--container-image" in run(["docker", "exec", "ml-head", "srun", "--help"]).stdout
    job = run(["docker", "exec", "ml-head", "srun", "-N2", "--container-image=ubuntu", "hostname"])
    assert sorted(job.stdout.split()) == ["ml-c1", "ml-c2"]


@pytest.mark.integration
def test_fsdp_runs_with_the_pyxis_batch_script(demo):
    # fsdp-container.sbatch through real Slurm and the stand-in Pyxis, which takes Pyxis's options and
    # checks the mounts as Pyxis does, but starts no container: the image's torchrun is the nodes' own
    image = "nvcr.io#nvidia/pytorch:25.01-py3"
    venv = DEFAULTS_PYTORCH_VENV
    settings = {
        "benchmark_fsdp_container_image": image,
        "benchmark_fsdp_steps": 4,
        "benchmark_fsdp_warmup_steps": 2,
        "benchmark_env": {"PATH": f"{venv}/bin:/usr/local/bin:/usr/bin:/bin"},
    }
    before = set(demo["reports"].glob("fsdp-*/fsdp.json"))
    result = playbook(demo, "benchmark_fsdp.yml", "-e", json.dumps(settings))
    assert result.returncode == 0, result.stdout[-3000:]
    (path,) = set(demo["reports"].glob("fsdp-*/fsdp.json")) - before
    report = json.loads(path.read_text())
    assert report["passed"], report["checks"]
    assert report["result"]["nodes"] == ["ml-c1", "ml-c2"] and report["result"]["timed_steps"] == [3, 4]
    for node in COMPUTE:
        log = run(["docker", "exec", node, "grep", "pyxis stand-in", "/var/log/slurm/slurmd.log"]).stdout
        assert f"would start {image} (runtime_path=/run/pyxis, mounts=/fsx:/fsx," in log


@pytest.mark.integration
def test_enroot_gives_each_user_their_own_paths_and_slurm_hooks(demo):
    # an unprivileged user's enroot resolves the role's drop-in and creates its directories as that user
    info = run(["docker", "exec", "ml-c1", "runuser", "-u", "nobody", "--", "enroot", "info"]).stdout
    for line in (
        "ENROOT_RUNTIME_PATH=/run/enroot/runtime/user-65534",
        "ENROOT_DATA_PATH=/run/enroot/data/user-65534",
        "ENROOT_CACHE_PATH=/fsx/enroot/cache/user-65534",
        "ENROOT_SQUASH_OPTIONS=-noI -noD -noF -noX -no-duplicates",
        "ENROOT_ROOTFS_WRITABLE=yes",
    ):
        assert f"  {line}" in info.splitlines()
    owners = run(
        [
            "docker",
            "exec",
            "ml-c1",
            "stat",
            "-c",
            "%U %a %n",
            "/run/enroot/runtime",
            "/run/enroot/runtime/user-65534",
            "/fsx/enroot/cache/user-65534",
        ]
    ).stdout.splitlines()
    assert owners[0] == "root 1777 /run/enroot/runtime"
    assert owners[1].startswith("nobody ") and owners[2].startswith("nobody ")
    # boot recreates the parents under /run; the Slurm hooks are enabled; the release is held
    tmpfiles = run(["docker", "exec", "ml-c1", "cat", "/etc/tmpfiles.d/enroot.conf"]).stdout
    assert "d /run/enroot/runtime 1777 root root -" in tmpfiles
    hooks = run(
        [
            "docker",
            "exec",
            "ml-c1",
            "readlink",
            "/etc/enroot/hooks.d/50-slurm-pmi.sh",
            "/etc/enroot/hooks.d/50-slurm-pytorch.sh",
        ]
    ).stdout.split()
    assert hooks == ["/usr/share/enroot/hooks.d/50-slurm-pmi.sh", "/usr/share/enroot/hooks.d/50-slurm-pytorch.sh"]
    held = run(["docker", "exec", "ml-c1", "apt-mark", "showhold"]).stdout.split()
    assert {"enroot", "enroot+caps"} <= set(held)
    caps = run(["docker", "exec", "ml-c1", "getcap", "/usr/bin/enroot-mksquashovlfs"]).stdout
    assert "cap_sys_admin" in caps
    # every node Slurm runs jobs on has the version set's release
    job = run(["docker", "exec", "ml-head", "srun", "-N2", "enroot", "version"])
    assert job.stdout.split() == [DEFAULTS["versions_enroot"]["version"]] * 2


@pytest.fixture(scope="module")
def registry(testbed, keep_artifacts):
    """The test bed's registry (Debian's docker-registry) with its hello image; enroot's URI for it."""
    ref = run([str(ROOT / "tests" / "testbed" / "registry.sh"), "push"], env=testbed).stdout.split()[-1]
    address, image = ref.split("/", 1)
    yield f"docker://{address}#{image}"
    if not keep_artifacts:
        run([str(ROOT / "tests" / "testbed" / "registry.sh"), "stop"], env=testbed)


def import_images(demo, *images):
    """The pytorch role's container half on the compute nodes, through site.yml as a user runs it."""
    settings = {
        "pytorch_container_images": list(images),
        "pytorch_container_image_dir": "/fsx/containers",
        # the test bed's registry has no TLS, as a registry inside a VPC may not
        "pytorch_container_import_environment": {"ENROOT_ALLOW_HTTP": "yes"},
    }
    return playbook(demo, "site.yml", "--limit", "compute", "--tags", "pytorch_containers", "-e", json.dumps(settings))


def recap(result):
    return dict(re.findall(r"^(ml-\S+)\s+: ok=\d+\s+changed=(\d+)", result.stdout, re.M))


@pytest.mark.integration
def test_container_images_are_imported_once_onto_the_shared_filesystem(demo, registry):
    image = "/fsx/containers/hello.sqsh"
    # the shared directory outlives the cluster: start without an earlier run's images and their directory
    run(["docker", "exec", "ml-c1", "rm", "-rf", "/fsx/containers"])
    first = import_images(demo, {"name": "hello", "uri": registry})
    assert first.returncode == 0, first.stdout[-3000:]
    assert recap(first) == {"ml-c1": "2", "ml-c2": "0"}  # the directory and the import, on one node
    # the other node reads the squashfs from the shared filesystem: the image's files, and what enroot
    # writes from its config (environment, entrypoint in /etc/rc)
    listing = run(["docker", "exec", "ml-c2", "unsquashfs", "-l", image]).stdout.split()
    assert {"squashfs-root/opt/hello/message", "squashfs-root/opt/hello/recipe", "squashfs-root/etc/rc"} <= set(listing)
    environ = run(["docker", "exec", "ml-c2", "unsquashfs", "-cat", image, "etc/environment"]).stdout
    assert "HELLO_HOME=/opt/hello" in environ.split()
    rc = run(["docker", "exec", "ml-c2", "unsquashfs", "-cat", image, "etc/rc"]).stdout
    assert 'cd "/opt/hello"' in rc and "exec '/opt/hello/run'" in rc
    assert run(["docker", "exec", "ml-c2", "stat", "-c", "%a %U", image]).stdout.split() == ["644", "root"]
    again = import_images(demo, {"name": "hello", "uri": registry})
    assert again.returncode == 0 and recap(again) == {"ml-c1": "0", "ml-c2": "0"}


@pytest.mark.integration
def test_a_failed_import_names_the_image_and_leaves_no_file(demo, registry):
    missing = registry.replace("hello:1", "no-such-image:1")
    result = import_images(demo, {"name": "missing", "uri": missing})
    assert result.returncode != 0
    assert "enroot import failed on ml-c1 for missing" in result.stdout
    assert "no-such-image/manifests/1 returned error code: 404 Not Found" in result.stdout
    left = run(["docker", "exec", "ml-c1", "find", "/fsx/containers", "-name", "*missing*"]).stdout
    assert left == ""


@pytest.mark.integration
def test_bad_container_images_are_refused_before_anything_changes(demo, registry):
    result = import_images(
        demo, {"name": "../escape", "uri": registry}, {"name": "ok", "uri": "nvcr.io/nvidia/pytorch"}
    )
    assert result.returncode != 0
    assert "pytorch_container_images: each item needs" in result.stdout
    assert "../escape" in result.stdout and "nvcr.io/nvidia/pytorch" in result.stdout
    assert "Import the container images" not in result.stdout


@pytest.mark.integration
def test_a_pyxis_source_that_differs_from_its_pin_is_refused_and_the_plugin_stays(demo):
    plugin = ["docker", "exec", "ml-c1", "sha256sum", "/usr/local/lib/slurm/spank_pyxis.so"]
    before = run(plugin).stdout
    # NVIDIA's real sha256 of the release (the version set's default) against the test bed's stand-in
    real = json.dumps({"versions_pyxis": DEFAULTS["versions_pyxis"]})
    result = playbook(demo, "site.yml", "--limit", "ml-c1", "--tags", "pyxis_install", "-e", real)
    assert result.returncode != 0
    assert f"did not match {DEFAULTS['versions_pyxis']['sha256']}" in result.stdout
    assert '"dest": "/usr/local/src/pyxis-0.24.0.tar.gz"' in result.stdout
    assert run(plugin).stdout == before
    assert "Restart slurmd" not in result.stdout


def node_state(name):
    """(state with flags, reason) as Slurm's controller has them."""
    line = run(["docker", "exec", "ml-head", "scontrol", "-o", "show", "node", name]).stdout
    state = re.search(r"\bState=(\S+)", line).group(1)
    reason = re.search(r"\bReason=(.*?)(?: \[[^\]]*\])?(?= [A-Z]\w+=|$)", line.strip())
    return state, reason.group(1) if reason else None


def wait_for(name, predicate, timeout=60):
    """Polls the node's Slurm state until predicate(state, reason); returns it and the seconds taken."""
    start = time.monotonic()
    while True:
        state, reason = node_state(name)
        if predicate(state, reason) or time.monotonic() - start > timeout:
            return state, reason, time.monotonic() - start
        time.sleep(2)


@pytest.mark.integration
def test_the_health_program_runs_on_every_compute_node(demo):
    for node in COMPUTE:
        result = run(["docker", "exec", node, "ml-health", "--tier", "quick"])
        verdict = json.loads(result.stdout)
        checks = {c["name"]: c for c in verdict["checks"]}
        assert verdict["outcome"] == "healthy" and checks["filesystems"] == {**checks["filesystems"], "status": "pass"}
        assert checks["GPU count"]["status"] == "not judged"  # no GPU on a CPU container
        assert "healthy (quick" in result.stderr
    listing = run(["docker", "exec", "ml-c1", "ml-health", "--list"]).stdout
    assert "DCGM diagnostics level 3" in listing
    bad = run(["docker", "exec", "ml-c1", "ml-health", "--check", "no such check"], check=False)
    assert bad.returncode == 64 and "no check named 'no such check'" in bad.stderr


@pytest.mark.integration
def test_slurm_drains_a_failing_node_and_resumes_it_once_it_passes(demo):
    """Slurm's HealthCheckProgram (every 15 s on the local cluster) runs ml-health-slurm. ml-c1 is told
    a filesystem it lacks must be mounted, as a node whose mount vanished would find: it is drained
    with the owner's reason while ml-c2 keeps running jobs; once the mount list is right it returns."""
    config = "/etc/ml_cluster/health.json"
    original = run(["docker", "exec", "ml-c1", "cat", config]).stdout
    broken = json.loads(original)
    broken["settings"]["mounts"] = ["/fsx", "/scratch"]
    try:
        run(["docker", "exec", "ml-c1", "python3", "-c", f"open({config!r}, 'w').write({json.dumps(broken)!r})"])
        state, reason, took = wait_for("ml-c1", lambda s, r: "DRAIN" in s)
        assert "DRAIN" in state, (state, reason)
        assert reason == "ml_cluster: filesystems: not mounted: /scratch"
        assert took < 45  # within one interval of 15 s, give or take the program and the poll
        job = run(["docker", "exec", "ml-head", "srun", "-N1", "-w", "ml-c2", "hostname"])
        assert job.stdout.strip() == "ml-c2"
    finally:
        run(["docker", "exec", "ml-c1", "python3", "-c", f"open({config!r}, 'w').write({original!r})"])
    state, reason, _ = wait_for("ml-c1", lambda s, r: "DRAIN" not in s)
    assert "DRAIN" not in state and reason is None, (state, reason)
    last = json.loads(run(["docker", "exec", "ml-c1", "cat", "/var/lib/ml_cluster/health/last.json"]).stdout)
    assert last["slurm"]["action"] in ("resume", "none") and last["outcome"] == "healthy"


@pytest.mark.integration
def test_a_node_a_person_drained_stays_drained(demo):
    run(["docker", "exec", "ml-head", "scontrol", "update", "NodeName=ml-c2", "State=DRAIN", "Reason=bad DIMM"])
    try:
        # until the checker has run on the drained node (every 15 s) and passed, then the state it left
        start, last = time.monotonic(), {}
        while "drained by someone else" not in last.get("slurm", {}).get("why", "") and time.monotonic() - start < 40:
            time.sleep(2)
            last = json.loads(run(["docker", "exec", "ml-c2", "cat", "/var/lib/ml_cluster/health/last.json"]).stdout)
        assert last["outcome"] == "healthy" and "drained by someone else" in last.get("slurm", {}).get("why", ""), last
        state, reason = node_state("ml-c2")
        assert "DRAIN" in state and reason == "bad DIMM", (state, reason)
    finally:
        run(["docker", "exec", "ml-head", "scontrol", "update", "NodeName=ml-c2", "State=RESUME"])


def set_mounts(node, mounts):
    config = "/etc/ml_cluster/health.json"
    script = (
        f"import json; c = json.load(open({config!r})); c['settings']['mounts'] = {mounts!r}; "
        f"json.dump(c, open({config!r}, 'w'))"
    )
    run(["docker", "exec", node, "python3", "-c", script])


def swap_in(node, path, text):
    """Puts a script at path on node, keeping the original beside it for restore()."""
    run(["docker", "exec", node, "cp", "-a", path, f"{path}.orig"])
    with tempfile.NamedTemporaryFile("w", suffix=".sh") as f:
        f.write(text)
        f.flush()
        os.chmod(f.name, 0o755)
        run(["docker", "cp", f.name, f"{node}:{path}"])


def restore(node, path):
    run(["docker", "exec", node, "sh", "-c", f"[ ! -e {path}.orig ] || mv -f {path}.orig {path}"])


@pytest.mark.integration
def test_the_prolog_keeps_a_job_off_a_failing_node_and_the_checker_takes_the_drain_over(demo):
    """The quick tier as the prolog (Prolog=/etc/slurm/prolog.d/*, PrologFlags=Alloc): ml-c1 fails it
    at a job's start, so Slurm drains ml-c1 ("Prolog error") and requeues the job. The checker is held
    off ml-c1 meanwhile, so the prolog meets the fault first; once it runs again it puts the failed
    check in the reason, and resumes the node when the fault is gone."""
    launcher = "/usr/local/sbin/ml-health-slurm"
    job = None
    try:
        swap_in("ml-c1", launcher, "#!/bin/sh\nexit 0\n")
        set_mounts("ml-c1", ["/fsx", "/scratch"])
        job = run(["docker", "exec", "ml-head", "sbatch", "--parsable", "-N1", "-w", "ml-c1", "--wrap", "hostname"])
        job = job.stdout.strip()
        state, reason, _ = wait_for("ml-c1", lambda s, r: "DRAIN" in s, timeout=30)
        assert "DRAIN" in state and reason == "Prolog error", (state, reason)
        record = json.loads(run(["docker", "exec", "ml-c1", "cat", "/var/lib/ml_cluster/health/prolog.json"]).stdout)
        assert record == {**record, "job": job, "reason": "ml_cluster: filesystems: not mounted: /scratch"}
        log = run(["docker", "exec", "ml-c1", "tail", "-n", "20", "/var/log/slurm/slurmd.log"]).stdout
        assert "fail  filesystems: not mounted: /scratch" in log  # the prolog's summary, for the operator
        pending = run(["docker", "exec", "ml-head", "squeue", "-h", "-j", job, "-o", "%T"]).stdout.strip()
        assert pending == "PENDING"  # requeued, not held, not failed
        assert run(["docker", "exec", "ml-head", "srun", "-N1", "-w", "ml-c2", "hostname"]).stdout.strip() == "ml-c2"
        restore("ml-c1", launcher)
        state, reason, _ = wait_for("ml-c1", lambda s, r: r and r.startswith("ml_cluster:"))
        assert reason == "ml_cluster: filesystems: not mounted: /scratch" and "DRAIN" in state, (state, reason)
    finally:
        restore("ml-c1", launcher)
        set_mounts("ml-c1", ["/fsx"])
        if job:
            run(["docker", "exec", "ml-head", "scancel", job])
    state, reason, _ = wait_for("ml-c1", lambda s, r: "DRAIN" not in s)
    assert "DRAIN" not in state and reason is None, (state, reason)
    kept = run(["docker", "exec", "ml-c1", "ls", "/var/lib/ml_cluster/health"]).stdout.split()
    assert "prolog.json" not in kept and {"history.jsonl", "last.json", "last-quick.json"} <= set(kept), kept


@pytest.mark.integration
def test_a_check_that_hangs_is_killed_and_drains_nothing(demo):
    """unmunge on ml-c2 made to hang (a wrapper whose child sleeps): the munge check times out, is
    killed with its child, reports could not check, and the node stays in service."""
    unmunge = "/usr/bin/unmunge"
    try:
        swap_in("ml-c2", unmunge, "#!/bin/sh\nsleep 600 &\nwait\n")
        start = time.monotonic()
        while time.monotonic() - start < 45:
            last = json.loads(run(["docker", "exec", "ml-c2", "cat", "/var/lib/ml_cluster/health/last.json"]).stdout)
            munge = next(c for c in last["checks"] if c["name"] == "munge")
            if munge["status"] == "could not check":
                break
            time.sleep(2)
        assert munge["status"] == "could not check" and munge["detail"] == "unmunge timed out after 5 s (killed)"
        assert last["outcome"] == "could not check" and last["slurm"]["action"] == "none"
        state, _, _ = wait_for("ml-c2", lambda s, r: False, timeout=20)  # one more interval
        assert "DRAIN" not in state
        assert run(["docker", "exec", "ml-head", "srun", "-N1", "-w", "ml-c2", "hostname"]).stdout.strip() == "ml-c2"
        sleepers = run(["docker", "exec", "ml-c2", "pgrep", "-f", "sleep 600"], check=False).stdout.split()
        assert len(sleepers) <= 1  # at most the one a run in progress holds, never one per run
    finally:
        restore("ml-c2", unmunge)


def squeue_state(job):
    return run(["docker", "exec", "ml-head", "squeue", "-h", "-j", job, "-o", "%T"]).stdout.strip()


@pytest.mark.integration
def test_the_health_sweep_takes_only_idle_nodes_and_its_drain_outlasts_the_quick_tier(demo):
    """playbooks/health_sweep.yml: the deep tier as exclusive root jobs in the hidden maintenance
    partition. ml-c1 runs a user's job, so it is left out and the job runs on; ml-c2 fails the local
    inventory's deep check (its write to /fsx meets a directory) and is drained. The quick tier, every
    15 s, does not return it; once the fault is gone, a sweep checks it on the node and resumes it."""
    fault = "/fsx/.ml-health-ml-c2"
    user_job = run(["docker", "exec", "ml-head", "sbatch", "--parsable", "-w", "ml-c1", "--wrap", "sleep 300"])
    user_job = user_job.stdout.strip()
    try:
        start = time.monotonic()
        while squeue_state(user_job) != "RUNNING" and time.monotonic() - start < 30:
            time.sleep(1)
        run(["docker", "exec", "ml-head", "mkdir", "-p", fault])
        swept = playbook(demo, "health_sweep.yml")
        assert swept.returncode != 0 and "unhealthy: ml-c2 (the health program drained" in swept.stdout, swept.stdout[
            -3000:
        ]
        assert re.search(r"ml-c1: not swept: running jobs \((allocated|mixed)\)", swept.stdout)
        assert "ml-c2: unhealthy: fsx writable: /fsx refuses writes (Slurm: drain)" in swept.stdout
        assert squeue_state(user_job) == "RUNNING"
        state, reason, _ = wait_for("ml-c2", lambda s, r: False, timeout=20)  # the quick tier runs meanwhile
        assert "DRAIN" in state and reason == "ml_cluster: fsx writable: /fsx refuses writes", (state, reason)
        last = json.loads(run(["docker", "exec", "ml-c2", "cat", "/var/lib/ml_cluster/health/last.json"]).stdout)
        assert last["tier"] == "quick" and "stays drained: fsx writable did not run" in last["slurm"]["why"]
        deep = json.loads(run(["docker", "exec", "ml-c2", "cat", "/var/lib/ml_cluster/health/last-deep.json"]).stdout)
        assert deep["outcome"] == "unhealthy" and deep["slurm"]["action"] == "drain"
        run(["docker", "exec", "ml-head", "rmdir", fault])
        again = playbook(demo, "health_sweep.yml", "-e", '{"health_sweep_nodes": ["ml-c2"]}')
        assert again.returncode == 0 and "ml-c2: healthy (Slurm: resume)" in again.stdout, again.stdout[-3000:]
        state, reason = node_state("ml-c2")
        assert "DRAIN" not in state and reason is None, (state, reason)
        assert squeue_state(user_job) == "RUNNING"
    finally:
        run(["docker", "exec", "ml-head", "scancel", user_job])
        run(["docker", "exec", "ml-head", "rm", "-rf", fault])
        state, reason = node_state("ml-c2")
        if reason and reason.startswith("ml_cluster:"):
            run(["docker", "exec", "ml-head", "scontrol", "update", "NodeName=ml-c2", "State=RESUME"])


@pytest.mark.integration
def test_the_maintenance_partition_is_hidden_and_root_only_and_bad_sweeps_are_refused(demo):
    # a user's view (root sees hidden partitions too)
    as_user = ["docker", "exec", "ml-head", "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    shown = run([*as_user, "sinfo", "-h", "-o", "%P"]).stdout.split()
    everything = run([*as_user, "sinfo", "--all", "-h", "-o", "%P"]).stdout.split()
    assert "maintenance" not in shown and "maintenance" in everything
    user = run([*as_user, "sbatch", "-p", "maintenance", "--wrap", "true"], check=False)
    assert user.returncode != 0 and "Access/permission denied" in user.stderr, user.stderr
    jobs = run(["docker", "exec", "ml-head", "scontrol", "show", "config"]).stdout
    before = re.search(r"NEXT_JOB_ID\s+=\s+(\d+)", jobs).group(1)
    cases = {
        '{"health_sweep_nodes": ["ml-c9"]}': "not Slurm nodes of the partition: ml-c9",
        '{"health_sweep_partition": "nope"}': "Slurm has no partition 'nope'",
        '{"health_sweep_tier": "quick"}': "value of health_sweep_tier must be one of",
    }
    for settings, says in cases.items():
        result = playbook(demo, "health_sweep.yml", "-e", settings)
        assert result.returncode != 0 and says in result.stdout, (settings, result.stdout[-2000:])
    jobs = run(["docker", "exec", "ml-head", "scontrol", "show", "config"]).stdout
    assert re.search(r"NEXT_JOB_ID\s+=\s+(\d+)", jobs).group(1) == before


ENROOT_RELEASES = "github.com/NVIDIA/enroot/releases/download"


def enroot_release(demo, version):
    """versions_enroot for a release the test bed's mirror serves (building the stand-in if needed)."""
    cache = Path(demo["env"]["AWSOME_CACHE"])
    env = dict(
        demo["env"],
        MIRROR_ROOT=str(cache / "mirror"),
        GNUPGHOME=str(cache / "mirror-gnupg"),
        ENROOT_STANDIN_VERSION=version,
    )
    out = cache / "mirror" / ENROOT_RELEASES / f"v{version}"
    if not (out / f"enroot_{version}-1_amd64.deb").exists():
        run(["bash", str(ROOT / "tests" / "testbed" / "standins" / "enroot.sh")], env=env)
    files = (f"enroot_{version}-1_amd64.deb", f"enroot+caps_{version}-1_amd64.deb")
    sums = {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in files}
    return json.dumps({"versions_enroot": {"version": version, "path": ENROOT_RELEASES, "sha256": sums}})


def rolling(demo, tag, release, *extra):
    """playbooks/rolling.yml with Enroot at release; (result, summary)."""
    report = demo["reports"] / f"rolling-{tag}"
    result = playbook(demo, "rolling.yml", "-e", release, "-e", f"rolling_report_dir={report}", *extra)
    summary = report / "summary.json"
    return result, json.loads(summary.read_text()) if summary.exists() else None


RELEASE = "/fsx/.rolling-release"
HOLD_JOB = f"while [ ! -e {RELEASE} ]; do sleep 1; done"


def enroot_on(node):
    return run(["docker", "exec", node, "dpkg-query", "-W", "-f", "${Version}", "enroot"]).stdout


def job_field(job, field):
    return re.search(rf"\b{field}=(\S+)", run(["docker", "exec", "ml-head", "scontrol", "show", "job", job]).stdout)[1]


FEW = ("-e", '{"rolling_roles": ["awsome.ml_cluster.enroot"]}')
SLURM_AND_ENROOT = ("-e", '{"rolling_roles": ["awsome.ml_cluster.slurm", "awsome.ml_cluster.enroot"]}')


@pytest.mark.integration
def test_a_rolling_run_refuses_bad_input_before_any_node_is_drained(demo):
    newer = enroot_release(demo, "4.3.0")
    for bad, says in (
        (("-e", "rolling_batch=0"), "rolling_batch must be a whole number of nodes above 0 (not 0)"),
        (("-e", "rolling_hosts=ml-head"), "rolling_hosts 'ml-head' must name compute nodes of the inventory"),
    ):
        result, _ = rolling(demo, "bad", newer, *bad)
        assert result.returncode != 0 and says in result.stdout, result.stdout[-2000:]
        assert all(node_state(n) == ("IDLE", None) for n in COMPUTE)


def change_around_a_held_job(demo, release):
    """rolling.yml while a job holds ml-c1: the job runs until the test has seen ml-c1 drained under
    it and the change waiting; then it may end. The job's id and the run's summary."""
    job = run(["docker", "exec", "ml-head", "sbatch", "--parsable", "-w", "ml-c1", "--wrap", HOLD_JOB]).stdout.strip()
    while squeue_state(job) == "PENDING":
        time.sleep(1)
    report = demo["reports"] / "rolling-newer"
    # one wave of both nodes; the slurm role beside the change, as it converges a drained node in a wave
    # (site.yml's whole list took 70 s more); the failing run below has one node per wave
    extra = ("-e", f"rolling_report_dir={report}", "-e", "rolling_batch=2", *SLURM_AND_ENROOT)
    argv = playbook_argv(demo, "rolling.yml", "-e", release, *extra)
    proc = subprocess.Popen(
        argv, env=demo["env"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        state, reason, _ = wait_for("ml-c1", lambda s, r: "DRAIN" in s, timeout=240)
        assert "DRAIN" in state and reason == "ml_cluster rolling: change Enroot 4.2.1 -> 4.3.0", (state, reason)
        time.sleep(5)
        assert squeue_state(job) == "RUNNING" and enroot_on("ml-c1") == "4.2.1-1"
    finally:
        run(["docker", "exec", "ml-head", "touch", RELEASE])
        out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    return job, json.loads((report / "summary.json").read_text())


@pytest.mark.integration
def test_a_rolling_change_lands_around_a_running_job_and_a_failed_one_keeps_its_node(demo):
    """playbooks/rolling.yml on real Slurm: Enroot 4.2.1 -> 4.3.0 (a stand-in release the mirror
    serves) while a job runs on ml-c1. ml-c1 is drained under the job, which goes on while the change
    waits, and ends well; both nodes, one wave, are drained, changed and resumed. A second run has
    nothing to change and drains nothing; a change whose checks fail leaves that node drained with
    the reason and stops the run before the next node; a later run finishes it."""
    newer, older = enroot_release(demo, "4.3.0"), enroot_release(demo, "4.2.1")
    try:
        job, summary = change_around_a_held_job(demo, newer)
        assert summary["changed"] == ["ml-c1", "ml-c2"] and summary["passed"], summary
        assert [w["nodes"] for w in summary["waves"]] == [["ml-c1", "ml-c2"]]
        assert (job_field(job, "JobState"), job_field(job, "ExitCode")) == ("COMPLETED", "0:0")
        assert [enroot_on(n) for n in COMPUTE] == ["4.3.0-1", "4.3.0-1"]
        assert all(node_state(n) == ("IDLE", None) for n in COMPUTE)

        result, summary = rolling(demo, "again", newer, *FEW)
        assert result.returncode == 0 and summary["skipped"] == ["ml-c1", "ml-c2"], summary
        # scontrol ran only to read: nothing drained, nothing resumed
        assert not re.search(r"changed: \[ml-c\d -> ml-head\]", result.stdout), result.stdout[-3000:]

        # the checks after the change fail on ml-c1 (its health program made to answer unhealthy)
        result, summary = rolling(demo, "failing", older, "-e", "rolling_health_program=/bin/false", *FEW)
        assert result.returncode != 0 and summary["failed"] == ["ml-c1"] and "ml-c2" not in summary["nodes"]
        state, reason = node_state("ml-c1")
        assert "DRAIN" in state and reason == (
            "ml_cluster rolling: checks failed after Enroot 4.3.0 -> 4.2.1: health: ml-health printed no result "
            "(exit 1)"
        ), reason
        assert node_state("ml-c2") == ("IDLE", None) and enroot_on("ml-c2") == "4.3.0-1"  # the run stopped

        result, summary = rolling(demo, "finish", older, "-e", "rolling_batch=2", *FEW)
        assert result.returncode == 0, result.stdout[-3000:]
        assert summary["finished"] == ["ml-c1"] and summary["changed"] == ["ml-c2"], summary
        assert [enroot_on(n) for n in COMPUTE] == ["4.2.1-1", "4.2.1-1"]
        assert all(node_state(n) == ("IDLE", None) for n in COMPUTE)
    finally:
        run(["docker", "exec", "ml-head", "rm", "-f", RELEASE])
        for node in COMPUTE:
            _, reason = node_state(node)
            if reason and reason.startswith("ml_cluster rolling:"):
                run(["docker", "exec", "ml-head", "scontrol", "update", f"NodeName={node}", "State=RESUME"])
        if any(enroot_on(n) != "4.2.1-1" for n in COMPUTE):
            rolling(demo, "restore", older, *FEW)


@pytest.fixture(scope="module")
def four_compute_nodes(demo, tmp_path_factory):
    """ml-c3 and ml-c4 cloned from the converged ml-c2 (ml-c4 with NET_ADMIN, for tc) and made Slurm
    nodes by the slurm role's configure half over an inventory naming them and a topology; afterwards
    removed, and Slurm reconverged to the two compute nodes, without the topology."""
    extra = tmp_path_factory.mktemp("inventory") / "four.yml"
    # two leaf switches under a spine, the odd and the even nodes: the search pairs neighbours
    topology = [
        {"switch": "leaf1", "nodes": ["ml-c1", "ml-c3"]},
        {"switch": "leaf2", "nodes": ["ml-c2", "ml-c4"]},
        {"switch": "spine", "switches": ["leaf1", "leaf2"]},
    ]
    hosts = {"compute": {"hosts": {"ml-c3": None, "ml-c4": None}}}
    extra.write_text(yaml.safe_dump({"all": {"vars": {"slurm_topology": topology}, "children": hosts}}))
    cluster = str(ROOT / "tests" / "testbed" / "cluster.sh")
    run([cluster, "clone", "ml-c2", "ml-c3"], env=demo["env"])
    run([cluster, "clone", "ml-c2", "ml-c4", "NET_ADMIN"], env=demo["env"])
    inventory = ["-i", str(extra)]
    try:
        converged = playbook(demo, "site.yml", *inventory, "--tags", "slurm_configure")
        assert converged.returncode == 0, converged.stdout[-3000:]
        yield inventory
    finally:
        run(["docker", "rm", "-f", "ml-c3", "ml-c4"])
        playbook(demo, "site.yml", "--tags", "slurm_configure")


def find_bad_nodes(demo, inventory, *extra):
    return playbook(demo, "find_bad_nodes.yml", *inventory, *extra)


@pytest.mark.integration
def test_find_bad_nodes_names_the_node_with_the_slow_network(demo, four_compute_nodes):
    # The kernel here has no netem (tc: "Specified qdisc kind is unknown"); a token bucket caps ml-c4's
    # egress at 100 Mbit/s, a slow network all the same.
    shape = [
        "tc",
        "qdisc",
        "add",
        "dev",
        "eth0",
        "root",
        "tbf",
        "rate",
        "100mbit",
        "burst",
        "32kbit",
        "latency",
        "400ms",
    ]
    # Judged against a measured baseline, as on a real cluster: round 1's median of two pairs is halfway
    # between the healthy pair and ml-c4's, and a healthy pair slowed by CI's other stages (QEMU on
    # both cores) fell below it. 0.04 GB/s (passing from 0.032) sits 2.5x above the cap's 0.0125 and
    # 8x below the healthy pairs' 0.26-0.28 measured here; load slows a healthy pair, never the cap.
    run(["docker", "exec", "ml-c4", *shape])
    try:
        result = find_bad_nodes(demo, four_compute_nodes, "-e", '{"benchmark_bad_nodes_baseline": 0.04}')
    finally:
        run(["docker", "exec", "ml-c4", "tc", "qdisc", "del", "dev", "eth0", "root"])
    assert result.returncode != 0 and "bad nodes: ml-c4 (drain them" in result.stdout, result.stdout[-3000:]
    path = Path(re.search(r"report (\S+bad-nodes)\.md", result.stdout).group(1))
    report = json.loads(path.with_suffix(".json").read_text())
    verdict = report["verdict"]
    assert verdict["bad"] == ["ml-c4"] and sorted(verdict["good"]) == ["ml-c1", "ml-c2", "ml-c3"]
    assert verdict["rounds"] <= 3 and verdict["judged"] and not verdict["unresolved"]
    first = report["rounds"][0]
    # by Slurm's topology (scontrol show topology), not the inventory's order
    assert report["leaf_switches"] == {"leaf1": ["ml-c1", "ml-c3"], "leaf2": ["ml-c2", "ml-c4"]}
    assert [j["nodes"] for j in first["jobs"]] == [["ml-c1", "ml-c3"], ["ml-c2", "ml-c4"]]
    assert first["passed"] == [True, False]
    # ml-c4's every pair is capped near 100 Mbit/s (0.0125 GB/s); the healthy pair is well above
    slow = [j["busbw"] for r in report["rounds"] for j in r["jobs"] if "ml-c4" in j["nodes"]]
    assert all(b is not None and b < 0.02 for b in slow) and first["jobs"][0]["busbw"] > 2 * max(slow)
    assert path.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    markdown = path.with_suffix(".md").read_text()
    assert "**Bad: ml-c4**" in markdown and "leaf1: ml-c1, ml-c3; leaf2: ml-c2, ml-c4" in markdown


@pytest.mark.integration
def test_find_bad_nodes_refuses_bad_input_before_any_job(demo, four_compute_nodes):
    before = run(["docker", "exec", "ml-head", "scontrol", "show", "config"]).stdout
    jobs = int(re.search(r"NEXT_JOB_ID\s+=\s+(\d+)", before).group(1))
    cases = {
        '{"benchmark_bad_nodes": ["ml-c1"]}': "needs two or more distinct nodes",
        '{"benchmark_bad_nodes": ["ml-c1", "ml-c1"]}': "needs two or more distinct nodes",
        '{"benchmark_bad_nodes": ["ml-c1", "ml-c9"]}': "not Slurm nodes: ml-c9",
        '{"benchmark_bad_nodes_tolerance": 1.5}': "a tolerance between 0 and 1",
    }
    for settings, says in cases.items():
        result = find_bad_nodes(demo, four_compute_nodes, "-e", settings)
        assert result.returncode != 0 and says in result.stdout, (settings, result.stdout[-2000:])
    run(["docker", "exec", "ml-head", "scontrol", "update", "NodeName=ml-c3", "State=DRAIN", "Reason=a person's"])
    try:
        result = find_bad_nodes(demo, four_compute_nodes)
        assert result.returncode != 0 and "drained or down, so they run no job: ml-c3" in result.stdout
    finally:
        run(["docker", "exec", "ml-head", "scontrol", "update", "NodeName=ml-c3", "State=RESUME"])
    after = run(["docker", "exec", "ml-head", "scontrol", "show", "config"]).stdout
    assert int(re.search(r"NEXT_JOB_ID\s+=\s+(\d+)", after).group(1)) == jobs  # nothing was submitted
