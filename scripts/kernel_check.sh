#!/usr/bin/env bash
# The BPF programs and the tests that load them, on Debian 12's own kernel (6.1), in a VM:
# downloads Debian's linux-image-6.1 package (not installed: its kernel is only booted),
# makes an initramfs holding busybox, the unit tests of a build and the models they read,
# boots it under QEMU (software emulation: about half a minute here) and runs the tests
# that load etcpipe's XDP program and socket filter (XdpProgram.*, KernelClassifier.*) there.
#   bash scripts/kernel_check.sh [BUILD_DIR]      (root; default build)
# Exit 0 when they pass on 6.1, 1 when they fail, 77 (skipped, saying why) when the VM
# cannot be made here.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=${1:-build}
TESTS=$PWD/$BUILD/tests/etcpipe_unit_tests
FILTER='XdpProgram.*:KernelClassifier.*:KernelModel.*'
skip() { echo "kernel_check: skipped: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "needs root (apt-get)"
[[ -x $TESTS ]] || skip "no $TESTS (build first)"
export DEBIAN_FRONTEND=noninteractive
if ! command -v qemu-system-x86_64 > /dev/null || ! command -v busybox > /dev/null; then
  apt-get install -y -q qemu-system-x86 busybox-static > /dev/null 2>&1 ||
    skip "cannot install qemu-system-x86 and busybox-static"
fi
WORK=$(mktemp -d /tmp/etcpipe-kernel-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' |
  cut -d' ' -f1 | sort -V | tail -1)
[[ -n $pkg ]] || skip "no linux-image-6.1 package in the archive"
apt-get download "$pkg" > /dev/null 2>&1 || skip "cannot download $pkg"
dpkg-deb -x ./*.deb kernel
vmlinuz=$(ls kernel/boot/vmlinuz-*)

# The initramfs: busybox, the tests with every library they load, the models they read,
# each at its own path (which may be under /tmp: the initramfs's /tmp is left as it is).
root=$WORK/root
mkdir -p "$root"/{bin,proc,sys,tmp,dev}
cp "$(command -v busybox)" "$root/bin/busybox"
copy() { mkdir -p "$root$(dirname "$1")" && cp -L "$1" "$root$1"; }
copy "$TESTS"
for lib in $(ldd "$TESTS" | grep -o '/[^ ]*'); do copy "$lib"; done
mkdir -p "$root$SRC/models" && cp -r "$SRC/models/." "$root$SRC/models/"
cat > "$root/init" << INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "kernel_check: kernel \$(uname -r)"
$TESTS --gtest_filter='$FILTER' --gtest_brief=1
echo "kernel_check: tests exit \$?"
poweroff -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | busybox cpio -o -H newc 2> /dev/null | gzip -1) > initrd.gz

# Software emulation: KVM inside this project's VMs is nested and did not boot the kernel.
timeout 900 qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 -nographic -no-reboot \
  -kernel "$vmlinuz" -initrd initrd.gz -append "console=ttyS0 panic=-1 loglevel=3" \
  < /dev/null > console.txt 2>&1 || true
grep -a "kernel_check:\|PASSED\|FAILED\|SKIPPED\|Failure" console.txt || true
grep -aq "kernel_check: kernel 6\.1\." console.txt || { tail -20 console.txt; skip "the VM did not boot"; }
# A test skipped there could not load the programs: that is a failure here.
! grep -aq "SKIPPED" console.txt && grep -aq "kernel_check: tests exit 0" console.txt
