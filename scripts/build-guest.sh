#!/usr/bin/env bash
# Builds Cumulo's tiny test guest from Debian packages (see /work/shared/GUEST.md):
# a Debian cloud kernel plus a busybox initramfs, and a self-contained bootable qcow2
# (extlinux on ext2) holding both, which is what Glance stores for e2e tests.
#
#   bash scripts/build-guest.sh [OUT_DIR]     # default: ${DATA_DIR:-./data}/guest
#
# Outputs in OUT_DIR: vmlinuz, initrd.img, disk.qcow2 (bootable without -kernel), VERSION.
# Idempotent: when OUT_DIR/VERSION matches this script's recipe, it exits at once.
# Needs root for the loop mount extlinux installs through; without it disk.qcow2 is skipped.
# Network: only Debian's apt mirror (apt-get download).
set -euo pipefail

OUT=${1:-${DATA_DIR:-./data}/guest}
# Bump when the recipe changes, so cached guests are rebuilt.
RECIPE=4
# The kernel the cloud-amd64 meta-package currently points at, unless pinned.
KPKG=${GUEST_KERNEL_PACKAGE:-$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
  sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1)}
# Offline (no apt lists) an existing build is still good: keep its kernel.
[ -n "$KPKG" ] || KPKG=$(sed -n 's/.* kernel=//p' "$OUT/VERSION" 2>/dev/null || true)
[ -n "$KPKG" ] || { echo "build-guest: no linux-image-*-cloud-amd64 known to apt (apt-get update?)" >&2; exit 1; }
STAMP="recipe=$RECIPE kernel=$KPKG"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# Test runs in parallel share one cached guest: one builds, the others wait and reuse it.
exec 9>"$OUT/.lock"
flock 9
if [ -f "$OUT/VERSION" ] && [ "$(cat "$OUT/VERSION")" = "$STAMP" ] &&
   [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initrd.img" ]; then
  echo "build-guest: up to date in $OUT ($STAMP)"
  exit 0
fi

for tool in cpio gzip dpkg apt-get; do
  command -v "$tool" >/dev/null || { echo "build-guest: $tool is missing" >&2; exit 1; }
done

rm -f "$OUT/VERSION"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cumulo-guest.XXXXXX")
MNT=""
cleanup() {
  [ -n "$MNT" ] && mountpoint -q "$MNT" && umount "$MNT"
  rm -rf "$WORK"
}
trap cleanup EXIT
started=$SECONDS

# --- packages -----------------------------------------------------------------------------
mkdir -p "$WORK/debs" "$WORK/x"
( cd "$WORK/debs" && apt-get download -q busybox-static "$KPKG" dropbear-bin libtomcrypt1 libtommath1 \
    2> >(grep -v 'unsandboxed' >&2) )
for d in "$WORK"/debs/*.deb; do dpkg -x "$d" "$WORK/x"; done
KVER=${KPKG#linux-image-}
X=$WORK/x

# --- rootfs -------------------------------------------------------------------------------
R=$WORK/rootfs
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root/.ssh,var/log,var/run,lib/modules} \
  "$R/etc/dropbear" "$R/usr/share/udhcpc" "$R/etc/acpi/PWRF"
cp "$X/bin/busybox" "$R/bin/busybox"
# One link per applet, so scripts and user data can call them by name.
for applet in $("$R/bin/busybox" --list-full); do
  [ -e "$R/$applet" ] || ln -s /bin/busybox "$R/$applet"
done

# Virtio modules, in the load order GUEST.md found to work (the cloud kernel has them as modules).
MODS="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_mmio
  failover net_failover virtio_net virtio_blk virtio-rng virtio_balloon button evdev"
: > "$R/lib/modules/order"
for m in $MODS; do
  f=$(find "$X/lib/modules/$KVER" -name "$m.ko" | head -n1)
  [ -n "$f" ] || continue   # built in
  cp "$f" "$R/lib/modules/"
  echo "$m.ko" >> "$R/lib/modules/order"
done

# Dropbear and the libraries it links (from the host's libc, same Debian release).
if [ -x "$X/usr/sbin/dropbear" ]; then
  cp "$X/usr/sbin/dropbear" "$R/usr/sbin/"
  [ -x "$X/usr/bin/dropbearkey" ] && cp "$X/usr/bin/dropbearkey" "$R/usr/bin/"
  mkdir -p "$R/lib/x86_64-linux-gnu" "$R/lib64"
  cp -L "$X"/usr/lib/x86_64-linux-gnu/libtom*.so.* "$R/lib/x86_64-linux-gnu/"
  for lib in $(LD_LIBRARY_PATH="$X/usr/lib/x86_64-linux-gnu" ldd "$X/usr/sbin/dropbear" |
               awk '/=> \//{print $3} $1 ~ /^\/lib64\//{print $1}'); do
    case "$lib" in *libtom*) continue ;; esac
    case "$lib" in /lib64/*) cp -L "$lib" "$R/lib64/" ;; *) cp -L "$lib" "$R/lib/x86_64-linux-gnu/" ;; esac
  done
fi

echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
echo 'root::0:0:99999:7:::' > "$R/etc/shadow"
echo 'root:x:0:' > "$R/etc/group"
echo '/bin/sh' > "$R/etc/shells"

# ACPI power button -> power off (busybox acpid runs /etc/acpi/<action>).
cat > "$R/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo "cumulo-guest: power button, powering off" > /dev/console
sync
poweroff -f
EOF
chmod +x "$R/etc/acpi/PWRF/00000080"

# DHCP client script: address, router, DNS and option 121 (classless static routes).
cat > "$R/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    # staticroutes: "net/len gw net/len gw ..."
    set -- $staticroutes
    while [ $# -ge 2 ]; do ip route replace "$1" via "$2" dev "$interface"; shift 2; done
    ;;
esac
exit 0
EOF
chmod +x "$R/usr/share/udhcpc/default.script"

cat > "$R/init" <<'EOF'
#!/bin/sh
# Cumulo test guest init: virtio modules, DHCP, metadata, SSH key, user data, acpid.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts; mount -t devpts devpts /dev/pts
exec </dev/console >/dev/console 2>&1
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m 2>/dev/null; done
ip link set lo up
hostname cumulo-guest
MD=http://169.254.169.254
md() { timeout 5 wget -q -O - "$MD/$1" 2>/dev/null; }
if [ -e /sys/class/net/eth0 ]; then
  udhcpc -i eth0 -O staticroutes -n -q -t 5 -T 2 -s /usr/share/udhcpc/default.script >/dev/null 2>&1
  if meta=$(md openstack/latest/meta_data.json); then
    h=$(echo "$meta" | sed -n 's/.*"hostname": *"\([^"]*\)".*/\1/p')
    [ -n "$h" ] && hostname "$h"
    echo "$meta" > /run/meta_data.json
  fi
  if key=$(md latest/meta-data/public-keys/0/openssh-key) && [ -n "$key" ]; then
    echo "$key" > /root/.ssh/authorized_keys; chmod 600 /root/.ssh/authorized_keys
  fi
  if md openstack/latest/user_data > /run/user-data && [ "$(head -c 2 /run/user-data)" = '#!' ]; then
    chmod +x /run/user-data; /run/user-data > /var/log/user-data.log 2>&1 &
  fi
fi
acpid -l /var/log/acpid.log
[ -x /usr/sbin/dropbear ] && dropbear -R -B
echo "cumulo-guest ready $(hostname) $(ip -4 -o addr show eth0 2>/dev/null | awk '{print $4}')"
while :; do sh 2>&1 </dev/console >/dev/console || sleep 1; done
EOF
chmod +x "$R/init"

# --- outputs ------------------------------------------------------------------------------
cp "$X/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
( cd "$R" && find . | cpio -o -H newc --quiet | gzip -9 ) > "$WORK/initrd.img"

# A self-contained bootable disk: ext2 holding the kernel and initramfs, extlinux in its boot
# sector (an unpartitioned "superfloppy": SeaBIOS boots the volume boot record directly).
if [ "$(id -u)" = 0 ] && command -v extlinux >/dev/null && command -v qemu-img >/dev/null; then
  B=$WORK/boot
  mkdir -p "$B/boot/extlinux"
  cp "$WORK/vmlinuz" "$WORK/initrd.img" "$B/boot/"
  cat > "$B/boot/extlinux/extlinux.conf" <<'EOF'
DEFAULT cumulo
TIMEOUT 1
PROMPT 0
LABEL cumulo
  LINUX /boot/vmlinuz
  INITRD /boot/initrd.img
  APPEND console=ttyS0 quiet panic=-1
EOF
  mke2fs -q -F -t ext2 -L cumulo-guest -d "$B" "$WORK/disk.raw" 48M >/dev/null
  MNT=$WORK/mnt; mkdir -p "$MNT"
  # Containers often have no loop devices: then only kernel + initrd (boot them with -kernel).
  if mount -o loop "$WORK/disk.raw" "$MNT" 2>/dev/null; then
    extlinux --install "$MNT/boot/extlinux" >/dev/null 2>&1
    umount "$MNT"; MNT=""
    qemu-img convert -q -O qcow2 "$WORK/disk.raw" "$WORK/disk.qcow2"
    mv "$WORK/disk.qcow2" "$OUT/disk.qcow2.new" && mv "$OUT/disk.qcow2.new" "$OUT/disk.qcow2"
  else
    echo "build-guest: no loop mount here: skipping disk.qcow2" >&2
    rm -f "$OUT/disk.qcow2"
  fi
else
  echo "build-guest: not root or no extlinux/qemu-img: skipping disk.qcow2" >&2
  rm -f "$OUT/disk.qcow2"
fi

# Rename into place last, so a half-built guest is never taken for a finished one.
mv "$WORK/vmlinuz" "$OUT/vmlinuz"
mv "$WORK/initrd.img" "$OUT/initrd.img"
echo "$STAMP" > "$OUT/VERSION"
echo "build-guest: built in $OUT in $((SECONDS - started))s ($STAMP)"
ls -la "$OUT"
