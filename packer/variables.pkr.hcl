variable "flavour" {
  type        = string
  default     = "gpu"
  description = "Image flavour: the playbook playbooks/image-<flavour>.yml (gpu, cpu)."
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
