build {
  name = "ml"
  sources = [
    "source.amazon-ebs.ubuntu2204",
    "source.amazon-ebs.ubuntu2404",
    "source.amazon-ebs.al2023",
    "source.amazon-ebs.pcluster",
    "source.amazon-ebs.eks",
    "source.docker.local",
    "source.qemu.local",
  ]

  # AMIs and the qemu disk: over SSH as the base image's user; the image role removes that user's keys
  # at the end.
  provisioner "ansible" {
    except          = ["docker.local"]
    playbook_file   = "${path.root}/../playbooks/image-${var.flavour}.yml"
    user            = build.User
    ansible_env_vars = local.ansible_env
    extra_arguments = concat(local.ansible_extra_arguments, ["-e", "image_build_user=${build.User}"], var.ansible_arguments)
  }

  # The local image: straight into the build container through docker.
  provisioner "ansible" {
    only             = ["docker.local"]
    playbook_file    = "${path.root}/../playbooks/image-${var.flavour}.yml"
    ansible_env_vars = local.ansible_env
    extra_arguments  = concat(local.ansible_extra_arguments, [
      "-e", "ansible_connection=community.docker.docker",
      "-e", "ansible_host=${build.ID}",
    ], var.ansible_arguments)
  }

  post-processor "docker-tag" {
    only       = ["docker.local"]
    repository = "${var.ami_prefix}-${var.flavour}"
    tags       = [var.image_tag]
  }

  post-processor "manifest" {
    output     = "${var.output_dir}/packer-manifest.json"
    strip_path = true
    custom_data = merge(local.base_tags, var.flavour == "gpu" ? merge(local.gpu_tags, local.ofi_tag) : var.flavour == "neuron" ? local.neuron_tags : {})
  }
}
