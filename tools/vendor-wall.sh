#!/usr/bin/env bash
# Re-fetches the supervisor wall's third-party files (committed under gateway/static/vendor/; the
# page loads nothing from a CDN) with `npm pack` and checks them against the sha256 sums below:
#
#   gateway/static/vendor/echarts/echarts.min.js   Apache ECharts 5 (Apache-2.0), dist/echarts.min.js
#   gateway/static/vendor/geo/beijing.json         Beijing's district boundaries (Apache-2.0), from the
#                                                  echarts@4.9.0 package, map/json/province/beijing.json
#                                                  (ECharts 5 no longer ships maps)
#
#   tools/vendor-wall.sh           fetch, verify, copy (needs npm and the npm registry)
#   tools/vendor-wall.sh --check   only verify the committed files (offline)
#
# Upgrading ECharts: set ECHARTS_VERSION, run with UPDATE=1 (prints the new sums instead of
# failing), read the release notes, put the printed sums below, run again without UPDATE, commit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ECHARTS_VERSION=5.6.0
ECHARTS_TGZ_SHA256=e1b82487dd7f8d9f0438eec1f1433051148e0095ac7a15d4db890afda45cf610
ECHARTS_MIN_SHA256=bf4a223524e40b77c304bec67e1222cf551f14880cf42c69dc046558e11c07b1
ZRENDER_VERSION=5.6.1  # bundled in echarts.min.js (BSD-3-Clause): only its LICENSE is copied
ZRENDER_TGZ_SHA256=0a2228b558e1a4bd8f1c74d67bb492923e3f5807d03c83d1665fb97af180dc26
GEO_PACKAGE_VERSION=4.9.0
GEO_TGZ_SHA256=d2bdf8af1b218d3885a518072788a3b7f0c2d3f8925ec8585a36be5ee5add3f2
GEO_BEIJING_SHA256=f21965a667fbe4d33bbf258cbea7f1a9260cdabfd92de598adb6a689e9519b01

VENDOR=gateway/static/vendor
UPDATE=${UPDATE:-0}
failed=0

check() {  # check FILE SHA256
    local actual
    actual=$(sha256sum "$1" | cut -d' ' -f1)
    if [ "$actual" != "$2" ]; then
        if [ "$UPDATE" = "1" ]; then
            echo "new sum: $1 $actual"
        else
            echo "vendor-wall: sha256 mismatch for $1: expected $2, got $actual" >&2
            failed=1
        fi
    fi
}

if [ "${1:-}" = "--check" ]; then
    check "$VENDOR/echarts/echarts.min.js" "$ECHARTS_MIN_SHA256"
    check "$VENDOR/geo/beijing.json" "$GEO_BEIJING_SHA256"
    [ "$failed" = 0 ] && echo "vendor-wall: committed files match the recorded sums"
    exit "$failed"
fi

command -v npm >/dev/null || { echo "vendor-wall: npm is needed" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch PACKAGE@VERSION TGZ_SHA256 -> extracted under $work/<name>
    local spec=$1 sum=$2 name=${1%@*} tgz
    tgz=$(cd "$work" && npm pack --silent "$spec" | tail -n1)
    check "$work/$tgz" "$sum"
    mkdir -p "$work/$name"
    tar xzf "$work/$tgz" -C "$work/$name"
}

fetch "echarts@$ECHARTS_VERSION" "$ECHARTS_TGZ_SHA256"
check "$work/echarts/package/dist/echarts.min.js" "$ECHARTS_MIN_SHA256"
fetch "zrender@$ZRENDER_VERSION" "$ZRENDER_TGZ_SHA256"
# A second copy of echarts (the old one with the maps) in its own folder.
mkdir -p "$work/old" && (cd "$work/old" && npm pack --silent "echarts@$GEO_PACKAGE_VERSION" >/dev/null)
check "$work/old/echarts-$GEO_PACKAGE_VERSION.tgz" "$GEO_TGZ_SHA256"
mkdir -p "$work/geo" && tar xzf "$work/old/echarts-$GEO_PACKAGE_VERSION.tgz" -C "$work/geo"
check "$work/geo/package/map/json/province/beijing.json" "$GEO_BEIJING_SHA256"

if [ "$failed" != 0 ]; then
    echo "vendor-wall: nothing copied" >&2
    exit 1
fi

mkdir -p "$VENDOR/echarts" "$VENDOR/geo"
cp "$work/echarts/package/dist/echarts.min.js" "$VENDOR/echarts/echarts.min.js"
cp "$work/echarts/package/LICENSE" "$VENDOR/echarts/LICENSE"
cp "$work/echarts/package/NOTICE" "$VENDOR/echarts/NOTICE"
cp "$work/echarts/package/licenses/LICENSE-d3" "$VENDOR/echarts/LICENSE-d3"
cp "$work/zrender/package/LICENSE" "$VENDOR/echarts/LICENSE-zrender"
cp "$work/geo/package/map/json/province/beijing.json" "$VENDOR/geo/beijing.json"
cp "$work/geo/package/LICENSE" "$VENDOR/geo/LICENSE"
cp "$work/geo/package/NOTICE" "$VENDOR/geo/NOTICE"
echo "vendor-wall: echarts $ECHARTS_VERSION and beijing.json (echarts $GEO_PACKAGE_VERSION) copied into $VENDOR"
[ "$UPDATE" = "1" ] && echo "vendor-wall: UPDATE=1: put the new sums printed above into this script"
exit 0
