#!/bin/sh
# Build a minimal root filesystem from Debian's busybox-static, offline.
# Usage: scripts/make-busybox-rootfs.sh DIR   (DIR is created; an existing one is replaced)
set -eu
dir=${1:?usage: make-busybox-rootfs.sh DIR}
bb=/bin/busybox
[ -x "$bb" ] || { echo "make-busybox-rootfs: $bb missing: apt-get install busybox-static" >&2; exit 1; }
case "$(file -L "$bb" 2>/dev/null || echo static)" in
  *dynamically*) echo "make-busybox-rootfs: $bb is not static: apt-get install busybox-static" >&2; exit 1 ;;
esac
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
cd "$dir.tmp"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root home var/tmp run
chmod 1777 tmp var/tmp
chmod 700 root
cp "$bb" bin/busybox
for applet in $(bin/busybox --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$(dirname "$applet")"
  [ -e "$applet" ] || ln -s /bin/busybox "$applet"
done
cat > etc/passwd <<'PW'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat > etc/group <<'GR'
root:x:0:
daemon:x:1:
tty:x:5:
users:x:100:
nogroup:x:65534:
GR
echo busybox > etc/hostname
cd - >/dev/null
rm -rf "$dir"
mv "$dir.tmp" "$dir"
echo "busybox rootfs ready in $dir"
