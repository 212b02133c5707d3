#!/usr/bin/env bash
# One-command set-up on a fresh Debian machine (as root): system packages, npm
# dependencies, the build, and the offline busybox rootfs; then, unless
# --no-demo, runs a container from the busybox bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
PACKAGES=(
  build-essential python3 file libc6-dev  # node-gyp builds the addon and helpers (the reaper is static)
  busybox-static                        # the offline rootfs and image
  libseccomp-dev libzstd-dev zstd       # linked into the native code
  uidmap iproute2 bsdutils              # user namespaces; network namespaces and script(1) in tests
  docker-registry                       # the registry the image tests pull from
  runc crun skopeo umoci podman conmon containerd  # peers for tests and benchmarks
  criu                                  # checkpoint and restore (driven through its command line)
  openssl                               # the registry test rig signs tokens
  hyperfine curl bc time                # benchmarks
  qemu-system-x86 xz-utils              # cgroup v2 tests in a VM
  apparmor                              # apparmor_parser, for the AppArmor checks in that VM
  containernetworking-plugins iptables nftables util-linux  # networking: CNI plugins, NAT, netns files
  passt                                 # pasta: rootless networking
  netavark aardvark-dns                 # podman's network stack, the peer bench/network.sh measures against
)
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
else
  echo "setup: not root, skipping apt-get (needs: ${PACKAGES[*]})" >&2
fi
# pasta (rootless networking) opens /dev/net/tun as the user: udev makes it
# 0666 on a normal Debian machine; a machine without udev may have it 0600.
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ]; then chmod 0666 /dev/net/tun; fi
# The cgroup v2 VM's kernel and initramfs (apt-get download; nothing installed).
if [ "$(id -u)" = 0 ]; then test/cgv2/setup-host.sh >/dev/null || echo "setup: cgroup v2 VM set-up failed; its test will say why" >&2; fi
npm ci --no-audit --no-fund
npm run build
scripts/make-busybox-rootfs.sh bundles/busybox/rootfs
# The offline default image: busybox:latest from Debian's busybox-static, in
# the image store, so `ccrun run busybox ...` works without a network.
if [ "$(id -u)" = 0 ]; then
  scripts/make-busybox-image.sh /var/tmp/ccrun-busybox.tar >/dev/null
  ./bin/ccrun load -i /var/tmp/ccrun-busybox.tar
fi
# The V8 code cache again, now that `run` has an image and a rootfs to warm
# it with (its functions are then precompiled: ~15 ms of each run).
node scripts/build-code-cache.js >/dev/null
if [ "${1:-}" != "--no-demo" ]; then
  ./bin/ccrun run --bundle bundles/busybox "demo-$$"
  [ "$(id -u)" != 0 ] || ./bin/ccrun run --rm busybox echo hello
fi
