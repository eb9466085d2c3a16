#!/usr/bin/env bash
# Builds the Debian package of autoharden from this checkout with dpkg-deb (no debhelper):
#   npm run deb        → build/autoharden_VERSION-REV_ARCH.deb (path printed on stdout)
# Layout (docs/packaging.md): the app under /usr/lib/autoharden (dist/, package.json, production
# node_modules from package-lock.json), /usr/bin/autoharden, the unit, the D-Bus policy, the man
# page and bash completion generated from the built CLI, the maintainer scripts of
# packaging/debian/, and the audit battery (audit/autoharden-battery.c) compiled static for this
# machine's architecture: the package is Architecture: ARCH (dpkg --print-architecture), not all.
# Needs node, npx (tsc), dpkg-deb, a C compiler with a static libc (libc6-dev) and an `npm ci`ed
# checkout. Env: CC (default cc), BUILD_DIR
# (default build), DEB_REVISION (default 1), DEBFULLNAME/DEBEMAIL (the maintainer),
# SOURCE_DATE_EPOCH (default: the last commit's time), DEB_ALLOW_TYPE_ERRORS.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
die() { echo "build-deb.sh: $*" >&2; exit 1; }
for b in node npm dpkg dpkg-deb dpkg-buildflags gzip strip "${CC:-cc}"; do command -v "$b" >/dev/null || die "needs $b"; done

pkg=autoharden
upstream=$(node -p 'require("./package.json").version')
version=$upstream-${DEB_REVISION:-1}
maintainer="${DEBFULLNAME:-autoharden maintainers} <${DEBEMAIL:-maintainers@users.noreply.r-seed-42ae69dd.example}>"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
out=$(mkdir -p "${BUILD_DIR:-build}" && cd "${BUILD_DIR:-build}" && pwd)
stage=$out/stage-$pkg
arch=$(dpkg --print-architecture)
deb=$out/${pkg}_${version}_${arch}.deb
rm -rf "$stage"
lib=$stage/usr/lib/$pkg
mkdir -p "$lib"
umask 022

# 1. The app, compiled from src/ into the stage: a clean tree (no stale files of an earlier build
#    in ./dist, no source maps pointing at a src/ that is not shipped).
npx tsc -p tsconfig.json --outDir "$lib/dist" --sourceMap false \
  || [ -n "${DEB_ALLOW_TYPE_ERRORS:-}" ] || die "tsc failed (DEB_ALLOW_TYPE_ERRORS=1 packages what it emitted anyway)"
chmod 755 "$lib/dist/cli/main.js"
# package.json without what only development needs; adapters/version.ts reads its version.
node -e '
  const p = require("./package.json");
  for (const k of ["devDependencies", "scripts", "files", "bundleDependencies", "man", "overrides"]) delete p[k];
  process.stdout.write(JSON.stringify(p, null, 2) + "\n");' > "$lib/package.json"

# 2. Production node_modules: the lock's non-dev packages, copied from ./node_modules as npm ci
#    left it (offline; the versions are checked against the lock). None has an install script
#    (test/unit/no-native-addon.test.ts). The usocket stand-in is copied as a directory.
work=$out/npm-$pkg
rm -rf "$work"; mkdir -p "$work"
node packaging/debian/prod-modules.mjs "$work/node_modules" || die "production node_modules: see above"
# What no one runs: maps, type declarations, TypeScript sources, documentation, web pages and
# images (pino's index.html loads scripts from CDNs: lintian privacy-breach-generic), tests,
# fixtures and VCS/CI files of the modules. Their license files stay.
find "$work/node_modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.ts' \
  -o \( -name '*.md' ! -iname 'LICEN[CS]E*' \) -o -name '*.markdown' -o -name '*.html' -o -name '*.png' -o -name '*.svg' \
  -o -iname 'CHANGELOG*' -o -iname 'HISTORY*' -o -name '.travis.yml' -o -name '.eslintrc*' -o -name '.gitattributes' \
  -o -name '.gitignore' -o -name '.npmignore' -o -name '.editorconfig' -o -name '.github' -o -name '.husky' \
  -o -name '.nyc_output' -o -name 'coverage' -o -name '.taprc' -o -name 'tsconfig*.json' -o -name '.prettierrc*' \
  -o -name 'test' -o -name 'tests' -o -name 'fixture' -o -name 'fixtures' -o -name 'benchmarks' -o -name 'bench' \
  -o -name 'examples' -o -name 'example' -o -name 'docs' -o -name '.bin' \) -prune -exec rm -rf {} +
find "$work/node_modules" -depth -type d -empty -delete
mv "$work/node_modules" "$lib/node_modules"
rm -rf "$work"
# Only regular files and directories, readable by all, written by no one else.
find "$lib" -type f -exec chmod 644 {} + -o -type d -exec chmod 755 {} +
# A file that starts with #! is a script: executable, as lintian expects (the modules' own CLIs).
find "$lib" -type f -exec sh -c 'for f; do [ "$(head -c2 "$f")" = "#!" ] && chmod 755 "$f"; done; true' sh {} +
# No native addon may be shipped: the only native file is the battery below, built here from source.
if find "$lib" -name '*.node' | grep -q .; then die "a native addon is in node_modules: $(find "$lib" -name '*.node')"; fi

# 3. The audit battery, where compose/audit.ts looks for it (dist/audit/, beside dist/compose/):
#    static (nothing for the loader to find inside a unit's sandbox), with Debian's hardening flags,
#    stripped. Its own compile error fails the package, never a package without it.
install -d "$lib/dist/audit"
DEB_BUILD_MAINT_OPTIONS=hardening=+all
export DEB_BUILD_MAINT_OPTIONS
# shellcheck disable=SC2046 # the flags are words
"${CC:-cc}" $(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CFLAGS) -static-pie -Wall -Werror=format-security \
  -o "$lib/dist/audit/autoharden-battery" audit/autoharden-battery.c $(dpkg-buildflags --get LDFLAGS) \
  || die "the audit battery did not compile (a static libc: libc6-dev)"
strip --remove-section=.comment --remove-section=.note "$lib/dist/audit/autoharden-battery"
chmod 755 "$lib/dist/audit/autoharden-battery"

# 4. The command, the unit, the D-Bus policy.
install -d "$stage/usr/bin" "$stage/usr/lib/systemd/system" "$stage/usr/share/dbus-1/system.d"
printf '#!/bin/sh\n# autoharden(8): the command line and the daemon, run by Debian'\''s Node.\nexec /usr/bin/node /usr/lib/%s/dist/cli/main.js "$@"\n' "$pkg" > "$stage/usr/bin/$pkg"
chmod 755 "$stage/usr/bin/$pkg"
grep -qx 'ExecStart=/usr/bin/autoharden daemon' systemd/autoharden.service || die "systemd/autoharden.service: ExecStart is not /usr/bin/autoharden daemon"
install -m 644 systemd/autoharden.service "$stage/usr/lib/systemd/system/autoharden.service"
install -m 644 systemd/org.autoharden1.conf "$stage/usr/share/dbus-1/system.d/org.autoharden1.conf"

# 5. Man page and completion, generated from the staged CLI (this also proves it loads with the
#    production node_modules alone).
install -d "$stage/usr/share/man/man8" "$stage/usr/share/bash-completion/completions"
AUTOHARDEN_DIST=$lib/dist node scripts/gen-man.mjs "$out/$pkg.8"
gzip -9n < "$out/$pkg.8" > "$stage/usr/share/man/man8/$pkg.8.gz"; rm "$out/$pkg.8"
AUTOHARDEN_DIST=$lib/dist node scripts/gen-completion.mjs "$stage/usr/share/bash-completion/completions/$pkg"
chmod 644 "$stage/usr/share/man/man8/$pkg.8.gz" "$stage/usr/share/bash-completion/completions/$pkg"

# 6. /usr/share/doc: copyright (ours, and every bundled module's license as its package.json
#    declares it; their license files ship beside them), changelog.Debian.
doc=$stage/usr/share/doc/$pkg
install -d "$doc"
node "$repo/packaging/debian/copyright.mjs" "$lib/node_modules" "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y)" > "$doc/copyright"
date_rfc=$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
printf '%s (%s) unstable; urgency=medium\n\n  * Built from the repository at commit %s.\n\n -- %s  %s\n' \
  "$pkg" "$version" "$commit" "$maintainer" "$date_rfc" | gzip -9n > "$doc/changelog.Debian.gz"
chmod 644 "$doc"/*

# 7. Lintian overrides, control, maintainer scripts, md5sums.
install -d "$stage/usr/share/lintian/overrides"
install -m 644 packaging/debian/lintian-overrides "$stage/usr/share/lintian/overrides/$pkg"
install -d "$stage/DEBIAN"
install -m 755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$stage/DEBIAN/"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
# the battery links the C library statically: its source is part of this binary (Policy 7.8)
built_using=$(dpkg-query -W -f='${source:Package} (= ${source:Version})' libc6-dev) || die "libc6-dev is not installed"

cat > "$stage/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: nodejs (>= 20.19), dbus, systemd
Built-Using: $built_using
Section: admin
Priority: optional
Description: hardens systemd services by experiment
 autoharden tries systemd's sandboxing options (ProtectSystem=,
 SystemCallFilter=, PrivateDevices=, ...) on a running service, one trial at
 a time, keeps the ones its health probes show do not break it, and writes
 them as a drop-in. Its daemon tunes enrolled services and then guards them,
 reverting what a later failure implicates.
 .
 This package ships the command line, the daemon (autoharden.service, D-Bus
 name org.autoharden1), its D-Bus policy and the static attack battery that
 autoharden audit runs inside a service's sandbox.
EOF
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
chmod 644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"
# Same mtimes for every file: a rebuild of the same commit gives the same package.
find "$stage" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

rm -f "$deb"
# --root-owner-group: every file root:root without fakeroot (dpkg >= 1.19).
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
rm -rf "$stage"
echo "$deb"
