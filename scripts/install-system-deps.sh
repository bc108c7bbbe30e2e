#!/usr/bin/env bash
# System packages the test suite needs beyond npm, installed idempotently (CI runs as root on Debian 12):
# - Mesa's Vulkan drivers from bookworm-backports (25.x): lavapipe gives Dawn (the `webgpu` package) a
#   software adapter, so the WebGPU training tests run without a GPU; bookworm's own 22.x is refused by Dawn.
# - Debian's Chromium, driven by playwright-core for the viewer's browser test.
set -euo pipefail

need=()
mesa_version=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
case "$mesa_version" in
  2[5-9].*|[3-9][0-9].*) ;;
  *) need+=(mesa) ;;
esac
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && { echo "system deps: present (mesa-vulkan-drivers $mesa_version, $(chromium --version 2>/dev/null))"; exit 0; }

if [ "$(id -u)" -ne 0 ]; then
  echo "system deps: missing ${need[*]} and not root; install mesa-vulkan-drivers (bookworm-backports) and chromium" >&2
  exit 1
fi
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
for item in "${need[@]}"; do
  case "$item" in
    mesa) apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null ;;
    chromium) apt-get install -y -qq chromium >/dev/null ;;
  esac
done
echo "system deps: installed ${need[*]} (mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers))"
