"""Slurm jobs as the collection's modules submit and follow them (bad_node_search, health_sweep):
one reading of a job's state, and one way to run a Slurm command that must succeed."""

from __future__ import annotations

# A job the controller no longer lists ended long enough ago.
GONE = "COMPLETED"
FINAL = {
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "BOOT_FAIL",
    "DEADLINE",
    "PREEMPTED",
    "REVOKED",
}


def ended(state):
    """Whether a job state (Slurm's, or one this collection wrote, "CANCELLED (why)") is final."""
    return state.split()[0] in FINAL


def job_state(module, scontrol, job_id, last):
    """Slurm's state of the job; GONE once the controller has forgotten it; last (the state known
    before) where scontrol did not answer: a busy slurmctld is asked again at the next poll."""
    rc, out, err = module.run_command([scontrol, "-o", "show", "job", job_id])
    if rc != 0:
        return GONE if "Invalid job id" in (err + out) else last
    return next((f.split("=", 1)[1] for f in out.split() if f.startswith("JobState=")), last)


def run_or_fail(module, argv):
    """stdout of argv; the module fails naming the command where it exits non-zero."""
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg=f"{' '.join(argv[:3])} ... exited {rc}: {(err or out).strip()[:500]}")
    return out
