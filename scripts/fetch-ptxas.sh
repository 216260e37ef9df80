#!/usr/bin/env bash
# Fetches NVIDIA's PTX assembler (ptxas) into .tools/ptxas/ without a GPU and without touching
# the machine's apt configuration: Debian trixie's non-free `nvidia-cuda-toolkit` .deb carries a
# ptxas that needs only libc. apt runs against a private sources/lists/cache/state directory, and
# its config dirs are pointed away from /etc/apt/apt.conf.d so the machine's hooks (appstream,
# packagekit, docker-clean) do not run against our private state.
# Idempotent: a working .tools/ptxas/ptxas is reused. Prints its path on stdout.
# On failure says why and exits non-zero (CI must fail, never skip).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dest="$repo/.tools/ptxas"
ptxas="$dest/ptxas"
package=nvidia-cuda-toolkit

fail() { echo "fetch-ptxas: $*" >&2; exit 1; }

if [[ -x "$ptxas" ]] && "$ptxas" --version >/dev/null 2>&1; then
  echo "$ptxas"
  exit 0
fi

for tool in apt-get dpkg; do
  command -v "$tool" >/dev/null || fail "needs $tool (a Debian-based machine); ptxas cannot be fetched here"
done

# The machine's own Debian mirror and keyring; trixie's Release is signed by keys bookworm's keyring holds.
system_sources=/etc/apt/sources.list.d/debian.sources
[[ -r "$system_sources" ]] || fail "cannot read $system_sources (mirror URI and keyring come from it)"
uri="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$system_sources")"
keyring="$(awk '/^Signed-By:/ {print $2; exit}' "$system_sources")"
[[ -n "$uri" && -r "$keyring" ]] || fail "no Debian URI or readable keyring in $system_sources (uri='$uri' keyring='$keyring')"

work="$(mktemp -d)"
chmod 755 "$work"  # apt drops to user _apt for downloads
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sources" "$work/parts" "$work/prefs" "$work/lists/partial" "$work/cache/archives/partial" "$work/state" "$work/deb"
# apt downloads as user _apt when run as root; let _apt write the .deb (else apt warns and downloads as root).
if [[ $EUID -eq 0 ]] && id _apt >/dev/null 2>&1; then chown _apt "$work/deb"; fi
touch "$work/status"
cat > "$work/sources/trixie.sources" <<SOURCES
Types: deb
URIs: $uri
Suites: trixie
Components: non-free
Signed-By: $keyring
SOURCES
# APT_CONFIG is read before the config parts directory, so only here can it be redirected.
cat > "$work/apt.conf" <<CONF
Dir::Etc::main "/dev/null";
Dir::Etc::parts "$work/parts";
Dir::Etc::preferences "/dev/null";
Dir::Etc::preferencesparts "$work/prefs";
Acquire::Languages "none";
Acquire::Retries "3";
CONF
apt_private() {
  APT_CONFIG="$work/apt.conf" apt-get -q \
    -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$work/sources" \
    -o Dir::State="$work/state" -o Dir::State::Lists="$work/lists" -o Dir::State::status="$work/status" \
    -o Dir::Cache="$work/cache" "$@"
}
fetch_deb() {
  apt_private update --error-on=any >&2 && (cd "$work/deb" && apt_private download "$package" >&2)
}
# One retry: a mirror hiccup should not fail CI, a real outage should.
if ! fetch_deb; then
  echo "fetch-ptxas: apt failed, retrying once in 15 s" >&2
  sleep 15
  fetch_deb || fail "could not download $package from $uri trixie non-free (see apt's error above)"
fi

deb="$(ls "$work"/deb/${package}_*.deb 2>/dev/null | head -n1)"
[[ -n "$deb" ]] || fail "apt-get download reported success but no ${package}_*.deb is in $work/deb"
dpkg -x "$deb" "$work/root" || fail "dpkg -x failed on $deb"
[[ -e "$work/root/usr/bin/ptxas" ]] || fail "$(basename "$deb") has no usr/bin/ptxas"
mkdir -p "$dest"
cp -L "$work/root/usr/bin/ptxas" "$ptxas.tmp" && chmod +x "$ptxas.tmp" && mv "$ptxas.tmp" "$ptxas"
"$ptxas" --version >&2 || fail "the extracted ptxas does not run here (it should need only libc)"
echo "$ptxas"
