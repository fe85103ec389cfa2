#!/usr/bin/env bash
# Boots and stops test VMs from the disk vm-image.sh builds, with QEMU from Debian's packages:
# direct kernel boot, virtio disk and network, user-mode networking with SSH forwarded to
# 127.0.0.1:<port>, a throwaway overlay disk per VM. KVM where it works, TCG otherwise.
# AWSOME_VM_DISK, AWSOME_VM_KERNEL and AWSOME_VM_INITRD boot another disk (an image the qemu Packer
# source built) with its own kernel and initramfs; the test bed's disk and its kernel by default.
#   vm.sh start NAME PORT   boot (a fresh overlay), wait for SSH, print an inventory line
#   vm.sh wait NAME PORT    wait for SSH again (after a reboot)
#   vm.sh stop NAME         stop the VM by its pid and drop its overlay
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/testbed/lib.sh
. "$here/lib.sh"

runs=$AWSOME_CACHE/vm/runs
mkdir -p "$runs"

accel() {
  # This machine kind's /dev/kvm opens but guests hang before their first kernel line (testbed.md):
  # KVM only when asked for.
  if [ "${AWSOME_VM_KVM:-0}" = 1 ] && [ -w /dev/kvm ]; then echo kvm; else echo tcg; fi
}

ssh_ok() {
  ssh -q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 \
    -i "$2" -p "$1" root@127.0.0.1 true 2>/dev/null
}

wait_ssh() {
  local name=$1 port=$2 timeout=${AWSOME_VM_BOOT_TIMEOUT:-300} start key
  key=$("$here/vm-image.sh" 2>/dev/null)/id_ed25519
  start=$(date +%s)
  until ssh_ok "$port" "$key"; do
    if [ $(( $(date +%s) - start )) -gt "$timeout" ]; then
      tail -20 "$runs/$name.console" >&2 || true
      die "VM $name did not answer SSH on port $port within $timeout s (console: $runs/$name.console)"
    fi
    sleep 3
  done
  say "VM $name answers SSH on 127.0.0.1:$port after $(( $(date +%s) - start )) s"
}

start() {
  local name=$1 port=$2 image
  image=$("$here/vm-image.sh")
  command -v qemu-system-x86_64 >/dev/null || die "QEMU is missing (apt-get install qemu-system-x86): the VM tier cannot run"
  stop "$name" 2>/dev/null || true
  qemu-img create -q -f qcow2 -b "$(realpath "${AWSOME_VM_DISK:-$image/disk.qcow2}")" -F qcow2 "$runs/$name.qcow2"
  qemu-system-x86_64 -accel "$(accel)" -m "${AWSOME_VM_MEMORY:-2048}" -smp "${AWSOME_VM_CPUS:-2}" \
    -kernel "${AWSOME_VM_KERNEL:-$image/vmlinuz}" -initrd "${AWSOME_VM_INITRD:-$image/initrd.img}" \
    -append "root=/dev/vda rw console=ttyS0" \
    -drive "file=$runs/$name.qcow2,if=virtio" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=n0 \
    -display none -serial "file:$runs/$name.console" -daemonize -pidfile "$runs/$name.pid"
  wait_ssh "$name" "$port"
  echo "$name ansible_host=127.0.0.1 ansible_port=$port ansible_user=root ansible_ssh_private_key_file=$image/id_ed25519"
}

stop() {
  local name=$1 pid
  if [ -s "$runs/$name.pid" ]; then
    pid=$(cat "$runs/$name.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$runs/$name.pid" "$runs/$name.qcow2"
}

case "${1:-}" in
  start) start "${2:?name}" "${3:?port}" ;;
  wait) wait_ssh "${2:?name}" "${3:?port}" ;;
  stop) stop "${2:?name}" ;;
  image) "$here/vm-image.sh" ;;
  *) die "usage: vm.sh start NAME PORT | wait NAME PORT | stop NAME | image" ;;
esac
