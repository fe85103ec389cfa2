# The two commands the README gives. Each sets up what is missing (idempotently), then does its job.
SHELL := /bin/bash
export AWSOME_CACHE ?= /var/cache/awsome-ml-cluster

.PHONY: demo test bootstrap lint clean image-docker image-qemu instance-types instance-types-offline

AWS_REGION ?= us-east-1
ARCH ?= x86_64
FLAVOUR ?= gpu
PCLUSTER_VERSION ?= 3.16.2
EKS_VERSION ?= 1.33
VERSIONS_FILE ?= versions-none.yml
PACKER_OUT ?= $(CURDIR)/artifacts/packer
PACKER := PATH=$(CURDIR)/.venv/bin:$$PATH packer/run.sh

## make demo [KEEP=0]: bring up the local Slurm cluster of containers, converge it (twice: the second
## must change nothing), stage the test cases, run the FSDP and collective benchmarks through Slurm,
## print the reports. KEEP=0 removes the cluster at the end.
KEEP ?= 1
demo: bootstrap
	AWSOME_DEMO_KEEP=$(KEEP) tests/testbed/demo.sh

## make test: lint, unit tests, then every molecule scenario and integration test.
test: bootstrap
	tests/testbed/run-tests.sh

bootstrap:
	tests/testbed/bootstrap.sh all

lint:
	.venv/bin/pytest -q tests/test_lint.py

## make instance-types [REGIONS=us-east-1,us-west-2]: refresh plugins/module_utils/instance_types.py from
## EC2's DescribeInstanceTypes with your AWS credentials (docs/hardware.md); nothing is written on error.
REGIONS ?= $(AWS_REGION)
instance-types:
	.venv/bin/python tools/instance_types.py --regions $(REGIONS)

## make instance-types-offline: the same from moto's recorded snapshot of EC2's data.
instance-types-offline:
	.venv/bin/python tools/instance_types.py --offline

## make clean: remove the local cluster and stop serving the mirror (caches stay).
clean:
	tests/testbed/cluster.sh down
	tests/testbed/mirror.sh stop

## make ami-<base>-<flavour> AWS_REGION=...: an AMI, e.g. ami-pcluster-gpu, ami-ubuntu2204-cpu, ami-eks-gpu
## (bases: ubuntu2204 ubuntu2404 al2023 pcluster eks; flavours: gpu neuron cpu).
ami-%:
	mkdir -p $(PACKER_OUT)
	$(PACKER) build -only=ml.amazon-ebs.$(word 1,$(subst -, ,$*)) \
	  -var-file=flavours/$(word 2,$(subst -, ,$*)).pkrvars.hcl -var aws_region=$(AWS_REGION) -var arch=$(ARCH) \
	  -var parallelcluster_version=$(PCLUSTER_VERSION) -var eks_version=$(EKS_VERSION) \
	  -var versions_file=$(VERSIONS_FILE) -var output_dir=$(PACKER_OUT)

## make image-docker FLAVOUR=gpu: the flavour into a local docker image (awsome-ml-<flavour>:latest),
## from the test bed's mirror, whose signing key stands in for the vendors' (mirror-versions.yml).
image-docker: bootstrap
	mkdir -p $(PACKER_OUT)
	$(PACKER) build -only=ml.docker.local -var-file=flavours/$(FLAVOUR).pkrvars.hcl \
	  -var mirror_base=$$(cat $(AWSOME_CACHE)/mirror.url) -var versions_file=$(AWSOME_CACHE)/mirror-versions.yml \
	  -var output_dir=$(PACKER_OUT)

## make image-qemu FLAVOUR=cpu [QEMU_ACCEL=tcg]: the flavour into a qcow2 disk under $(PACKER_OUT)/qemu-<flavour>/,
## built in a VM on the test bed's Debian 12 disk (tests/testbed/vm-image.sh), from the test bed's mirror.
QEMU_ACCEL ?= tcg
image-qemu: bootstrap
	mkdir -p $(PACKER_OUT)
	disk=$$(tests/testbed/vm.sh image) && $(PACKER) build -only=ml.qemu.local -var-file=flavours/$(FLAVOUR).pkrvars.hcl \
	  -var mirror_base=$$(cat $(AWSOME_CACHE)/mirror.url) -var versions_file=$(AWSOME_CACHE)/mirror-versions.yml \
	  -var qemu_disk=$$disk/disk.qcow2 -var qemu_kernel=$$disk/vmlinuz -var qemu_initrd=$$disk/initrd.img \
	  -var qemu_ssh_key=$$disk/id_ed25519 -var qemu_accelerator=$(QEMU_ACCEL) -var output_dir=$(PACKER_OUT)
