variable "flavour" {
  type        = string
  default     = "gpu"
  description = "Image flavour: the playbook playbooks/image-<flavour>.yml (gpu, neuron, cpu)."
}

variable "arch" {
  type        = string
  default     = "x86_64"
  description = "x86_64 or arm64."
}

variable "aws_region" {
  type    = string
  default = "us-east-1"
}

variable "instance_type" {
  type        = string
  default     = "c6i.4xlarge"
  description = "The build instance; a CPU instance builds GPU images too (DKMS builds for the image's kernel)."
}

variable "target_instance_type" {
  type        = string
  default     = "p5.48xlarge"
  description = "The instance type the image is for: picks the driver's module flavour and fabric manager."
}

variable "volume_size" {
  type    = number
  default = 100
}

variable "ami_prefix" {
  type    = string
  default = "awsome-ml"
}

variable "parallelcluster_version" {
  type    = string
  default = "3.16.2"
}

variable "parallelcluster_os" {
  type        = string
  default     = "ubuntu-2204-lts-hvm"
  description = "The OS part of the official ParallelCluster AMI name (ubuntu-2204-lts-hvm, ubuntu-2404-lts-hvm, amzn2023-hvm)."
}

variable "parallelcluster_os_tag" {
  type        = string
  default     = "ubuntu2204"
  description = "parallelcluster:os tag value matching parallelcluster_os (ubuntu2204, ubuntu2404, alinux2023)."
}

variable "eks_version" {
  type    = string
  default = "1.33"
}

variable "mirror_base" {
  type        = string
  default     = "https://"
  description = "versions_mirror_base: every download is this followed by the artifact's host and path."
}

variable "versions_file" {
  type        = string
  default     = "versions-none.yml"
  description = "A YAML file of version-set overrides, given to Ansible and read for the tags alike."
}

variable "docker_base_image" {
  type    = string
  default = "awsome-ml-base:latest"
}

variable "image_tag" {
  type    = string
  default = "latest"
}

variable "output_dir" {
  type    = string
  default = "build"
}

variable "ansible_arguments" {
  type        = list(string)
  default     = []
  description = "More arguments for the flavour playbook, e.g. [\"--tags\", \"nvidia_driver,image\"] or [\"-e\", \"name=value\"]."
}

# The qemu source: a local disk image, for what needs a real kernel (tests/testbed/vm-image.sh's disk).
variable "qemu_disk" {
  type        = string
  default     = "build/base.qcow2"
  description = "The bootable qcow2 disk the qemu source builds on; its sha256 is read from <disk>.sha256."
}

variable "qemu_kernel" {
  type        = string
  default     = "build/vmlinuz"
  description = "The kernel the build VM boots directly (the disk's own, copied out of it)."
}

variable "qemu_initrd" {
  type        = string
  default     = "build/initrd.img"
  description = "The initramfs the build VM boots with."
}

variable "qemu_ssh_key" {
  type        = string
  default     = "build/id_ed25519"
  description = "The private key that root's authorized key on the disk matches."
}

variable "qemu_accelerator" {
  type        = string
  default     = "kvm"
  description = "kvm where it works, tcg (software emulation) otherwise."
}
