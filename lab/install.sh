#!/usr/bin/env bash
# Installs what the lab's classes run (Debian 12 packages), and the lab's own tools (gcc and
# libnetfilter-queue-dev for its delay stage, lab/nfqdelay.c): for
# every class, or for the classes named (lab/install.sh openvpn-udp https-http2). The
# packages' own services are not started (the lab starts its servers in its namespaces).
set -euo pipefail
cd "$(dirname "$0")"
packages=$(python3 - "$@" <<'PY'
import sys
import classes
unknown = [n for n in sys.argv[1:] if n not in classes.BY_NAME]
if unknown:
    sys.exit(f"lab/install.sh: unknown class(es) {', '.join(unknown)}: see lab/generate --list")
chosen = [classes.BY_NAME[n] for n in sys.argv[1:]] or classes.ALL
print(" ".join(sorted({p for c in chosen for p in c.packages})))
PY
)
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: postinst scripts start no service.
cleanup() { if [[ -n ${made_policy:-} ]]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
fi
missing=()
for p in tcpdump openssl curl iproute2 iptables iputils-ping python3 gcc libnetfilter-queue-dev $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "lab/install.sh: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
