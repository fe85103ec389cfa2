# Kept alone so the rest of the templates also validate and build with older Packer releases (1.6,
# where the amazon, ansible, docker and qemu builders are built in and `required_plugins` is unknown):
# point those at a copy of this directory without this file. Current Packer: `packer init .` first.
packer {
  required_version = ">= 1.6.6"
  required_plugins {
    amazon = {
      version = ">= 1.8.2"
      source  = "github.com/hashicorp/amazon"
    }
    ansible = {
      version = ">= 1.1.6"
      source  = "github.com/hashicorp/ansible"
    }
    docker = {
      version = ">= 1.1.0"
      source  = "github.com/hashicorp/docker"
    }
    qemu = {
      version = ">= 1.1.0"
      source  = "github.com/hashicorp/qemu"
    }
  }
}
