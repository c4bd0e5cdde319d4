#!/bin/sh
# Build a PgBouncer that supports prepared statements in transaction mode (>= 1.21, `max_prepared_statements`)
# beside Debian 12's pgbouncer 1.18: the test suite runs its pool probe against both.
#
# Where it comes from: Debian 13 (trixie)'s source package `pgbouncer`, fetched with `apt-get source` from a
# deb-src-only entry (so no trixie binary package can ever be installed), built against Debian 12's libraries.
# That entry and its index live in the cache folder and are given to apt on its command line: the machine's
# apt configuration (/etc/apt, /var/lib/apt/lists) is left as it was, and a later `apt update` fetches nothing
# more. Only the `pgbouncer` binary is built (no docs, no Debian packaging), into a per-user cache keyed by the
# source version:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/do-pgpool/pgbouncer-<version>/bin/pgbouncer
#   ${XDG_CACHE_HOME:-$HOME/.cache}/do-pgpool/pgbouncer-new -> pgbouncer-<version>   (what the tests look for)
#   ${XDG_CACHE_HOME:-$HOME/.cache}/do-pgpool/apt/   (the deb-src entry and its index; removable once built)
#
# Idempotent: once built, it prints the binary's path and exits at once (no apt call). Building needs root
# (the build dependencies are installed with apt-get) and Debian (its archive keyring checks the sources);
# otherwise: a message, exit 1.
# DEBIAN_MIRROR: another Debian mirror for the deb-src entry (default http://deb.debian.org/debian).
# Prints the binary's path on stdout; everything else goes to stderr.
set -eu

HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/do-pgpool"
LINK="$CACHE/pgbouncer-new"
APT_DIR="$CACHE/apt"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
SUITE=trixie
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What `./configure && make` needs, from Debian 12 (trixie's Build-Depends also lists debhelper, pandoc for
# the manual pages, PAM, LDAP, systemd and python for Debian's own tests: none of which this binary uses).
BUILD_DEPS="build-essential dpkg-dev pkg-config libevent-dev libssl-dev libc-ares-dev"

say() { echo "build-pgbouncer: $*" >&2; }

if [ -x "$LINK/bin/pgbouncer" ]; then
    echo "$LINK/bin/pgbouncer"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    say "no PgBouncer >= 1.21 in $LINK and not root: run \`sudo make servers\` (or this script as root) to build it"
    exit 1
fi

if [ ! -r "$KEYRING" ] || ! command -v apt-get >/dev/null 2>&1; then
    say "no apt-get or no $KEYRING (not Debian?): build PgBouncer >= 1.21 yourself and set PGBOUNCER_NEW=/path/to/pgbouncer"
    exit 1
fi

mkdir -p "$CACHE"
# One build at a time (several `make test` may start together); the winner's build serves the others.
exec 9>"$CACHE/.build.lock"
flock 9
if [ -x "$LINK/bin/pgbouncer" ]; then
    echo "$LINK/bin/pgbouncer"
    exit 0
fi

# apt with only the deb-src entry, its own index folder and no cache files: the machine's apt sources, index
# and caches are neither read nor written. Downloads run as root (APT's _apt user cannot enter root's home).
mkdir -p "$APT_DIR/lists/partial"
echo "deb-src [signed-by=$KEYRING] $MIRROR $SUITE main" >"$APT_DIR/sources.list"
trixie_apt() {
    apt-get -o Dir::Etc::sourcelist="$APT_DIR/sources.list" -o Dir::Etc::sourceparts=- \
        -o Dir::State::Lists="$APT_DIR/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
        -o APT::Sandbox::User=root "$@"
}
update_trixie() {
    say "apt-get update ($SUITE sources only, index in $APT_DIR)"
    trixie_apt update -qq >&2
}
if ! ls "$APT_DIR"/lists/*_dists_${SUITE}_*Sources* >/dev/null 2>&1; then
    update_trixie
fi

missing=""
for pkg in $BUILD_DEPS; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    say "installing build dependencies from Debian 12:$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
        --no-install-recommends $missing >&2
fi

work=$(mktemp -d /tmp/do-pgpool-pgbouncer-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
say "apt-get source pgbouncer/$SUITE in $work"
get_source() { trixie_apt source -qq --only-source "pgbouncer/$SUITE" >&2; }
# An old index may name a version the mirror no longer has (a newer security update replaced it): refresh once.
get_source || { rm -rf ./pgbouncer*; update_trixie; get_source; }
dsc=$(ls pgbouncer_*.dsc)
version=$(sed -n 's/^Version: *//p' "$dsc")
upstream=${version%-*}
say "source $dsc: Build-Depends: $(sed -n 's/^Build-Depends: *//p' "$dsc")"
dest="$CACHE/pgbouncer-$version"
if [ ! -x "$dest/bin/pgbouncer" ]; then
    cd pgbouncer-"$upstream"*/
    say "building PgBouncer $version (configure + make, binary only)"
    ./configure --prefix="$dest" --with-cares --without-pam --without-ldap --without-systemd >"$work/configure.log" 2>&1 ||
        { tail -n 40 "$work/configure.log" >&2; exit 1; }
    make -j"$(nproc)" pgbouncer >"$work/make.log" 2>&1 || { tail -n 40 "$work/make.log" >&2; exit 1; }
    mkdir -p "$dest.tmp/bin"
    install -m 755 pgbouncer "$dest.tmp/bin/pgbouncer"
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
fi
"$dest/bin/pgbouncer" --version >&2
ln -sfn "pgbouncer-$version" "$LINK"
echo "$LINK/bin/pgbouncer"
