# Base AMIs are found by name and owner (never a hard-coded ID); the newest match is used.

source "amazon-ebs" "ubuntu2204" {
  region        = var.aws_region
  instance_type = var.instance_type
  ami_name      = "${local.ami_name}-ubuntu2204"
  ssh_username  = "ubuntu"
  tags          = merge(local.base_tags, var.flavour == "gpu" ? merge(local.gpu_tags, local.ofi_tag) : var.flavour == "neuron" ? local.neuron_tags : {}, { "ml_cluster:line" = "ubuntu2204-${var.flavour}-${var.arch}" })
  run_tags      = { Name = "packer-${local.ami_name}" }
  source_ami_filter {
    filters = {
      name                = "ubuntu/images/hvm-ssd-gp3/ubuntu-jammy-22.04-${local.ubuntu_arch}-server-*"
      architecture        = var.arch
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["099720109477"]
    most_recent = true
  }
  launch_block_device_mappings {
    device_name           = "/dev/sda1"
    volume_size           = var.volume_size
    volume_type           = "gp3"
    iops                  = 10000
    throughput            = 1000
    delete_on_termination = true
  }
}

source "amazon-ebs" "ubuntu2404" {
  region        = var.aws_region
  instance_type = var.instance_type
  ami_name      = "${local.ami_name}-ubuntu2404"
  ssh_username  = "ubuntu"
  tags          = merge(local.base_tags, var.flavour == "gpu" ? merge(local.gpu_tags, local.ofi_tag) : var.flavour == "neuron" ? local.neuron_tags : {}, { "ml_cluster:line" = "ubuntu2404-${var.flavour}-${var.arch}" })
  run_tags      = { Name = "packer-${local.ami_name}" }
  source_ami_filter {
    filters = {
      name                = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${local.ubuntu_arch}-server-*"
      architecture        = var.arch
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["099720109477"]
    most_recent = true
  }
  launch_block_device_mappings {
    device_name           = "/dev/sda1"
    volume_size           = var.volume_size
    volume_type           = "gp3"
    iops                  = 10000
    throughput            = 1000
    delete_on_termination = true
  }
}

source "amazon-ebs" "al2023" {
  region        = var.aws_region
  instance_type = var.instance_type
  ami_name      = "${local.ami_name}-al2023"
  ssh_username  = "ec2-user"
  tags          = merge(local.base_tags, var.flavour == "gpu" ? merge(local.gpu_tags, local.ofi_tag) : var.flavour == "neuron" ? local.neuron_tags : {}, { "ml_cluster:line" = "al2023-${var.flavour}-${var.arch}" })
  run_tags      = { Name = "packer-${local.ami_name}" }
  source_ami_filter {
    filters = {
      # the 6.12 kernel line, not kernel-default, which moves to a new LTS kernel yearly
      name                = "al2023-ami-2023.*-kernel-6.12-${var.arch}"
      architecture        = var.arch
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }
  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = var.volume_size
    volume_type           = "gp3"
    iops                  = 10000
    throughput            = 1000
    delete_on_termination = true
  }
}

# The official ParallelCluster AMI of one version: the custom AMI keeps its cookbook state and must
# carry the parallelcluster:* tags the CLI checks (version, build_status, os).
source "amazon-ebs" "pcluster" {
  region        = var.aws_region
  instance_type = var.instance_type
  ami_name      = "${local.ami_name}-pcluster-${var.parallelcluster_version}"
  ssh_username  = substr(var.parallelcluster_os, 0, 6) == "ubuntu" ? "ubuntu" : "ec2-user"
  tags = merge(local.base_tags, var.flavour == "gpu" ? merge(local.gpu_tags, local.ofi_tag) : var.flavour == "neuron" ? local.neuron_tags : {}, {
    "ml_cluster:line"              = "pcluster-${var.flavour}-${var.arch}"
    "parallelcluster:version"      = var.parallelcluster_version
    "parallelcluster:build_status" = "available"
    "parallelcluster:os"           = var.parallelcluster_os_tag
  })
  run_tags = { Name = "packer-${local.ami_name}" }
  source_ami_filter {
    filters = {
      name                = "aws-parallelcluster-${var.parallelcluster_version}-${var.parallelcluster_os}-${var.arch}-*"
      architecture        = var.arch
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }
  launch_block_device_mappings {
    device_name           = substr(var.parallelcluster_os, 0, 6) == "ubuntu" ? "/dev/sda1" : "/dev/xvda"
    volume_size           = var.volume_size
    volume_type           = "gp3"
    iops                  = 10000
    throughput            = 1000
    delete_on_termination = true
  }
}

# The EKS-optimized AL2023 AMI for one Kubernetes version (standard variant: this collection adds
# the NVIDIA stack itself).
source "amazon-ebs" "eks" {
  region        = var.aws_region
  instance_type = var.instance_type
  ami_name      = "${local.ami_name}-eks-${var.eks_version}"
  ssh_username  = "ec2-user"
  tags          = merge(local.base_tags, var.flavour == "gpu" ? merge(local.gpu_tags, local.ofi_tag) : var.flavour == "neuron" ? local.neuron_tags : {}, { "ml_cluster:eks_version" = var.eks_version }, { "ml_cluster:line" = "eks-${var.flavour}-${var.arch}" })
  run_tags      = { Name = "packer-${local.ami_name}" }
  source_ami_filter {
    filters = {
      name                = "amazon-eks-node-al2023-${var.arch}-standard-${var.eks_version}-v*"
      architecture        = var.arch
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }
  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = var.volume_size
    volume_type           = "gp3"
    iops                  = 10000
    throughput            = 1000
    delete_on_termination = true
  }
}

# The same flavour playbook into a local image, from the test bed's Debian 12 systemd base image.
source "docker" "local" {
  image       = var.docker_base_image
  pull        = false
  commit      = true
  run_command = ["-d", "-i", "-t", "--cap-add", "SYS_ADMIN", "--cgroupns=host",
                 "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
                 "--name", "packer-${var.ami_prefix}-${var.flavour}", "{{.Image}}", "/sbin/init"]
  changes     = concat(["CMD [\"/sbin/init\"]"], [for k, v in merge(local.base_tags, var.flavour == "gpu" ? merge(local.gpu_tags, local.ofi_tag) : var.flavour == "neuron" ? local.neuron_tags : {}) : "LABEL ${replace(k, ":", ".")}=${v}"])
}

# The same flavour playbook into a QEMU disk, on top of a bootable disk image (the test bed's Debian 12
# disk: tests/testbed/vm-image.sh): what a real kernel sees at build and at first boot (DKMS, the
# initramfs, the modules loaded at boot, first-boot identity), without a cloud account.
source "qemu" "local" {
  disk_image       = true
  iso_url          = var.qemu_disk
  iso_checksum     = "file:${var.qemu_disk}.sha256"
  accelerator      = var.qemu_accelerator
  format           = "qcow2"
  disk_interface   = "virtio"
  net_device       = "virtio-net"
  memory           = 2048
  cpus             = 2
  headless         = true
  skip_compaction  = true
  skip_resize_disk = true
  output_directory = "${var.output_dir}/qemu-${var.flavour}"
  vm_name          = "${var.ami_prefix}-${var.flavour}.qcow2"
  # direct kernel boot (the disk has no boot loader); SSH forwarded on the loopback address only
  qemuargs = [
    ["-kernel", var.qemu_kernel],
    ["-initrd", var.qemu_initrd],
    ["-append", "root=/dev/vda rw console=ttyS0"],
    ["-netdev", "user,id=user.0,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22"],
    ["-serial", "file:${var.output_dir}/qemu-${var.flavour}.console"],
  ]
  communicator         = "ssh"
  ssh_username         = "root"
  ssh_private_key_file = var.qemu_ssh_key
  ssh_timeout          = "15m"
  shutdown_command     = "systemctl poweroff"
}
