# Packer 1.6 cannot resolve a local from another local, so each local below stands on variables and
# functions alone.
locals {
  # The GPU and network components of the one version set, read where the roles read it, with the same
  # override file Ansible gets: "ml_cluster:<component>" = its version (toolkits joined with commas,
  # NCCL with the CUDA it is built for).
  gpu_tags = {
    for name, value in merge(
      yamldecode(file("${path.root}/../roles/versions/defaults/main.yml")),
      yamldecode(file(abspath(var.versions_file) == var.versions_file ? var.versions_file : "${path.root}/${var.versions_file}"))
    ) :
    # a list of toolkits -> "12.8.1,13.0.2"; a component -> its version; a plain version as it is
    "ml_cluster:${replace(name, "versions_", "")}" => try(
      "${value.version}+cuda${value.cuda}", join(",", [for t in value : t.version]), value.version, value
    )
    if contains(["versions_nvidia_driver", "versions_fabric_manager", "versions_cuda_toolkits", "versions_cuda_default",
                 "versions_nvidia_container_toolkit", "versions_dcgm", "versions_efa", "versions_nccl",
                 "versions_gdrcopy", "versions_nccl_tests", "versions_enroot"], name)
  }

  # The Neuron flavour's components: the SDK release (its packages and Python pins are in the image's
  # manifest), EFA and Enroot.
  neuron_tags = {
    for name, value in merge(
      yamldecode(file("${path.root}/../roles/versions/defaults/main.yml")),
      yamldecode(file(abspath(var.versions_file) == var.versions_file ? var.versions_file : "${path.root}/${var.versions_file}"))
    ) :
    "ml_cluster:${replace(name, "versions_", "")}" => try(value.sdk, value.version)
    if contains(["versions_neuron", "versions_efa", "versions_enroot"], name)
  }

  # The aws-ofi-nccl the EFA installer bundles.
  ofi_tag = {
    "ml_cluster:aws_ofi_nccl" = merge(
      yamldecode(file("${path.root}/../roles/versions/defaults/main.yml")),
      yamldecode(file(abspath(var.versions_file) == var.versions_file ? var.versions_file : "${path.root}/${var.versions_file}"))
    )["versions_efa"].bundles.aws_ofi_nccl
  }

  base_tags = {
    "ml_cluster:collection" = "awsome.ml_cluster"
    "ml_cluster:flavour"    = var.flavour
  }

  ami_name = "${var.ami_prefix}-${var.flavour}-${var.arch}-${regex_replace(timestamp(), "[- TZ:]", "")}"

  ubuntu_arch = var.arch == "x86_64" ? "amd64" : "arm64"

  ansible_extra_arguments = [
    "-e", "@${abspath(var.versions_file) == var.versions_file ? var.versions_file : "${path.root}/${var.versions_file}"}",
    "-e", "versions_mirror_base=${var.mirror_base}",
    "-e", "versions_target_instance_type=${var.target_instance_type}",
  ]

  ansible_env = [
    "ANSIBLE_CONFIG=${path.root}/../ansible.cfg",
    "ANSIBLE_GALAXY_SERVER=http://127.0.0.1:9/",
    "ANSIBLE_SSH_ARGS=-o HostKeyAlgorithms=+ssh-rsa -o PubkeyAcceptedKeyTypes=+ssh-rsa",
    "ANSIBLE_SSH_TRANSFER_METHOD=piped",
  ]
}
