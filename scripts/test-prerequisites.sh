#!/bin/sh
# Installs the Debian tools the test suite uses, when they are missing and we are root (CI is).
# Without root it only names what is missing: the tests that need it are then skipped, except
# under CI=true, where they run and fail.
set -eu
# command:package. openssl signs like EC2; util-linux (mount, unshare, setpriv) makes the fault
# mounts and the private namespace; systemd gives systemctl --root, systemd-analyze and journalctl;
# systemd-container and debootstrap boot a Debian tree; iproute2 makes the boot test's network
# namespace; cloud-init validates the README's user-data; docker-registry (distribution), skopeo and
# the Docker CLI are the real registry and clients of the round-trip tests; acl (setfacl) grants a
# user write through an ACL; faketime (libfaketime) steps the wall clock under the CLI, and chattr
# makes an append-only directory; nginx (its auth_request module) fronts the registry for verify --listen.
# npm run package (which the package tests run) needs binutils (strip), dpkg-deb, rpm (rpmbuild) and
# xz; the tests check the .rpm with rpm and rpmlint, and flock builds the packages once for parallel test files.
tools="openssl:openssl mount:mount unshare:util-linux setpriv:util-linux mkfifo:coreutils
systemctl:systemd systemd-analyze:systemd journalctl:systemd systemd-nspawn:systemd-container
debootstrap:debootstrap ip:iproute2 cloud-init:cloud-init
docker-registry:docker-registry skopeo:skopeo docker:docker.io gzip:gzip tar:tar
setfacl:acl faketime:faketime chattr:e2fsprogs nginx:nginx
strip:binutils dpkg-deb:dpkg rpmbuild:rpm rpm:rpm rpmlint:rpmlint xz:xz-utils flock:util-linux"
missing=""
for tool in $tools; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing="$missing ${tool#*:}"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "test-prerequisites: installing$missing" >&2
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
  echo "test-prerequisites: missing$missing (run as root to install them); the tests that need them are skipped" >&2
fi
