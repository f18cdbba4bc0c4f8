#!/usr/bin/env bash
# Benchmarks of every stage, each beside the reference its issue names, in one
# table on stdout and in bench/latest.md. Sections (default: all):
#   manifest storage s3 latency etag metadata filters hash plan apply delete run sync
# (sync and etag run the real bandersnatch at $BANDERSNATCH when it is there; sync needs the real bandersnatch at $BANDERSNATCH, default /tmp/bs-venv/bin/bandersnatch;
#  SYNC_SIZES are the side-by-side sizes, SYNC_OURS_SIZES ours alone, for peak RSS;
#  SYNC_STEPS incremental syncs of a different 1% each, median quoted, default 5)
# Sizes can be lowered for a quick look, e.g. STORAGE_SIZES="100000" PLAN_SIZES="1000000".
# RESULTS names the table written (default bench/latest.md, replaced each run;
# bench/results.md keeps the figures quoted in the issues, by hand);
# BC names another build to measure, e.g. an older commit's, beside this one.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$(go env GOPATH)/bin" LC_ALL=C
sections=${*:-manifest storage s3 latency etag metadata filters hash plan apply delete run sync}
STORAGE_SIZES=${STORAGE_SIZES:-"100000 1000000"}
PLAN_SIZES=${PLAN_SIZES:-"1000000 15000000"}
RUN_SIZES=${RUN_SIZES:-"10000 100000"}
S3_OBJECTS=${S3_OBJECTS:-100000}
REPEAT=${REPEAT:-3}
work=${BENCH_DIR:-$(mktemp -d /var/tmp/bandercheck-bench.XXXXXX)}
mkdir -p bench "$work"
# static, as scripts/release.sh and the Dockerfile build what operators run
CGO_ENABLED=0 go build -o bin/ ./cmd/bandercheck ./cmd/genmirror
bc=${BC:-$PWD/bin/bandercheck} gm=$PWD/bin/genmirror # BC: another build, to compare versions
names=../shared/data/pypi-project-names.txt.zst
[ -f "$names" ] && names_flag=(--names "$names") || names_flag=()
results=${RESULTS:-bench/latest.md}
{
  echo "# bandercheck benchmarks, $(date -u +%Y-%m-%d) ($(nproc) cores, $(free -g | awk '/Mem/{print $2}') GB)"
  echo
  echo "| stage | size | tool | wall s | peak RSS MiB | rows/s | ratio (reference wall / ours) |"
  echo "|---|---|---|---|---|---|---|"
} > "$results"
server=
s3pid=
proxypid=
cleanup() { for p in "$server" "$s3pid" "$proxypid"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; true; }
trap cleanup EXIT

# timed CMD...: runs CMD, sets wall and rss (MiB) and cpu (user+sys s)
timed() {
  local t0 t1 u s
  t0=$(date +%s%N)
  /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$@" > "$work/out" 2> "$work/err" || { cat "$work/err" >&2; return 1; }
  t1=$(date +%s%N)
  read -r wall rss u s < "$work/time"
  # wall to the millisecond (time's %e has hundredths: too coarse for the
  # incremental sync's tenths of a second)
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
  rss=$((rss / 1024))
  # run resets the kernel's high-water mark at each stage (to tell each
  # stage's own peak), so time's figure is the last stage's only: take the
  # peak run prints, the largest of its stages', when it is larger
  local pm; pm=$(sed -n 's/^peak memory: \([0-9]*\) MiB$/\1/p' "$work/out" | tail -n 1)
  if [ -n "$pm" ] && [ "$pm" -gt "$rss" ]; then rss=$pm; fi
  cpu=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.1f", u+s}')
}
# median of the wall and max rss over REPEAT runs of CMD
median_timed() {
  local walls=() rsses=()
  for _ in $(seq "$REPEAT"); do "$@"; walls+=("$wall"); rsses+=("$rss"); done
  wall=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  rss=$(printf '%s\n' "${rsses[@]}" | sort -n | tail -1)
}
row() { # stage size tool wall rss rows ratio
  local rate="-"
  [ "$6" != "-" ] && rate=$(awk -v n="$6" -v w="$4" 'BEGIN{printf "%.0f", n/(w>0?w:0.001)}')
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$5" "$rate" "$7" >> "$results"
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$5" "$rate" "$7"
}
ratio() { awk -v r="$1" -v o="$2" 'BEGIN{printf "%.2f", r/(o>0?o:0.001)}'; }

bench_manifest() {
  GOMAXPROCS=1 go test ./pipeline -run XXX -bench Manifest -benchtime 3x > "$work/gobench"
  awk '/^BenchmarkManifest/ {
    for (i=1;i<=NF;i++) { if ($(i+1)=="rows/s") r=$i; if ($(i+1)=="disk-bytes/row") b=$i; if ($(i+1)=="ns/op") ns=$i }
    printf "| manifest %s (1 core) | 1000000 rows | go test -bench | %.2f | - | %.0f | %s bytes/row on disk |\n", ($1 ~ /Write/ ? "write" : "read"), ns/1e9, r, b
  }' "$work/gobench" | tee -a "$results"
}

bench_storage() {
  for n in $STORAGE_SIZES; do
    local m="$work/files-$n"
    [ -d "$m" ] || "$gm" files --out "$m" --n "$n"
    find_sort() { timed sh -c "cd '$m' && find web/packages -type f -printf '%P\t%s\t%T@\n' | sort > '$work/find.txt'"; }
    ours() { rm -rf "$work/st-storage"; timed "$bc" --progress never --mirror "$m" --state "$work/st-storage" scan storage; }
    find_sort; ours # warm the cache for both
    median_timed find_sort; local rw=$wall rr=$rss
    median_timed ours
    row "scan storage (POSIX)" "$n files" "find \| sort" "$rw" "$rr" "$n" "1.00"
    row "scan storage (POSIX)" "$n files" "bandercheck" "$wall" "$rss" "$n" "$(ratio "$rw" "$wall")"
  done
}

start_versity() {
  command -v versitygw >/dev/null || go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
  mkdir -p "$work/s3data"
  export ROOT_ACCESS_KEY=bench ROOT_SECRET_KEY=benchsecret AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=benchsecret AWS_REGION=us-east-1
  export BANDERCHECK_S3_ENDPOINT=http://127.0.0.1:17070 BANDERCHECK_S3_PATH_STYLE=true
  versitygw --port 127.0.0.1:17070 posix "$work/s3data" > "$work/versitygw.log" 2>&1 &
  s3pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:17070 && break; sleep 0.1; done
}

bench_s3() {
  start_versity
  local src="$work/s3files"
  [ -d "$src" ] || "$gm" files --out "$src" --n "$S3_OBJECTS"
  "$gm" upload --from "$src" --bucket listbench
  seq_list() { timed "$gm" s3bench --mode list --bucket listbench; }
  ours() { rm -rf "$work/st-s3"; timed "$bc" --progress never --mirror s3://listbench --state "$work/st-s3" scan storage --jobs 16; }
  median_timed seq_list; local rw=$wall rr=$rss
  median_timed ours
  row "scan storage (S3 list)" "$S3_OBJECTS objects" "one ListObjectsV2 loop" "$rw" "$rr" "$S3_OBJECTS" "1.00"
  row "scan storage (S3 list)" "$S3_OBJECTS objects" "bandercheck, 16 partitions" "$wall" "$rss" "$S3_OBJECTS" "$(ratio "$rw" "$wall")"
  "$gm" upload --from "$src" --bucket delsingle
  "$gm" upload --from "$src" --bucket delbatch
  timed "$gm" s3bench --mode delete-single --bucket delsingle; read -r _ sw < "$work/out"
  timed "$gm" s3bench --mode delete-batch --bucket delbatch; read -r _ bw < "$work/out"
  row "apply delete (S3)" "$S3_OBJECTS objects" "DeleteObject per key" "$sw" "-" "$S3_OBJECTS" "1.00"
  row "apply delete (S3)" "$S3_OBJECTS objects" "bandercheck, DeleteObjects of 1,000" "$bw" "-" "$S3_OBJECTS" "$(ratio "$sw" "$bw")"
  kill "$s3pid"; s3pid=
}

# S3 at real latency (issue 14): run --dry-run without and with --hash (one
# HEAD per object for bandersnatch's sha256 metadata), through genmirror
# proxy at 0 and 20 ms a request in front of versitygw, at --s3-requests 16
# (round 1's concurrency) and at the default; then the mirror in N
# partitions, N processes at once. The proxy counts the requests and the
# most in flight; cpu is bandercheck's own user+sys seconds (versitygw and
# the proxy run on the same cores).
bench_latency() {
  start_versity
  local n=${LATENCY_PROJECTS:-2000} m="$work/lat-${LATENCY_PROJECTS:-2000}"
  [ -d "$m" ] || "$gm" mirror --out "$m" --upstream "$work/lat-up-$n" --projects "$n" "${names_flag[@]}" > /dev/null
  "$gm" upload --from "$m" --bucket "lat$n" --prefix mirror
  local objects; objects=$(find "$m/web/packages" -type f | wc -l)
  stat_of() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$work/stats"; }
  for delay in 0ms 20ms; do
    rm -f "$work/proxy.url"
    "$gm" proxy --target http://127.0.0.1:17070 --delay "$delay" > "$work/proxy.url" &
    proxypid=$!
    for _ in $(seq 50); do [ -s "$work/proxy.url" ] && break; sleep 0.1; done
    local p; p=$(cat "$work/proxy.url")
    for hash in "" "--hash"; do
      for req in 16 256; do
        ours() {
          rm -rf "$work/st-lat"; curl -s -XPOST "$p/_s3proxy/stats" > /dev/null
          # shellcheck disable=SC2086
          timed "$bc" --progress never --s3-endpoint "$p" --s3-requests "$req" --mirror "s3://lat$n/mirror" --state "$work/st-lat" run --dry-run $hash
          curl -s "$p/_s3proxy/stats" > "$work/stats"
        }
        median_timed ours
        row "run --dry-run ${hash:-(sizes from the listing)}, S3 +$delay" "$n projects, $objects objects" "--s3-requests $req: $(stat_of total) requests, at most $(stat_of max_in_flight) in flight, cpu ${cpu}s" "$wall" "$rss" "$objects" "-"
      done
    done
    if [ "$delay" = 20ms ]; then
      for parts in 1 2 4; do
        curl -s -XPOST "$p/_s3proxy/stats" > /dev/null
        local start; start=$(date +%s.%N)
        local pids=()
        for k in $(seq 0 $((parts - 1))); do
          rm -rf "$work/st-part-$k"
          /usr/bin/time -f "%M" -o "$work/time-$k" "$bc" --progress never --s3-endpoint "$p" --mirror "s3://lat$n/mirror" --state "$work/st-part-$k" --partition "$k/$parts" run --dry-run --hash > /dev/null 2>&1 &
          pids+=($!)
        done
        wait "${pids[@]}"
        wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.2f", e-s}')
        rss=$(cat "$work"/time-* | sort -n | tail -1); rss=$((rss / 1024))
        rm -f "$work"/time-*
        curl -s "$p/_s3proxy/stats" > "$work/stats"
        row "scan in $parts partitions (--partition K/$parts run --dry-run --hash), S3 +$delay" "$n projects, $objects objects" "$parts processes at once: $(stat_of total) requests in all" "$wall" "$rss" "$objects" "-"
      done
    fi
    kill "$proxypid"; proxypid=
  done
  kill "$s3pid"; s3pid=
}

# --hash=etag at real latency (issue 24): run --dry-run with no hash (the
# listing), --hash=etag, --hash=metadata (a HEAD per object) and
# --hash=content (a GET per object), at the default --s3-requests, through
# genmirror proxy at 20 ms a request in front of versitygw; beside
# bandersnatch verify --delete --dry-run on the same bucket through the same
# proxy (its S3 plugin reads the sha256 metadata, a HEAD per file, and walks
# the folders). genmirror plants its defects, among them same-size
# corruptions (--hash-mismatch): the agreement row compares the download and
# delete paths of etag's plan with content's.
bench_etag() {
  start_versity
  local n=${LATENCY_PROJECTS:-2000} m="$work/etag-${LATENCY_PROJECTS:-2000}"
  [ -d "$m" ] || "$gm" mirror --out "$m" --upstream "$work/etag-up-$n" --projects "$n" --hash-mismatch 0.005 "${names_flag[@]}" > /dev/null
  "$gm" upload --from "$m" --bucket "etag$n" --prefix mirror
  local objects; objects=$(find "$m/web/packages" -type f | wc -l)
  stat_of() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$work/stats"; }
  rm -f "$work/proxy.url"
  "$gm" proxy --target http://127.0.0.1:17070 --delay 20ms > "$work/proxy.url" &
  proxypid=$!
  for _ in $(seq 50); do [ -s "$work/proxy.url" ] && break; sleep 0.1; done
  local p; p=$(cat "$work/proxy.url") listing=
  for hash in "" "--hash=etag" "--hash=metadata" "--hash=content"; do
    local walls=() rsses=() reqs=()
    for _ in $(seq "$REPEAT"); do
      rm -rf "$work/st-etag"; curl -s -XPOST "$p/_s3proxy/stats" > /dev/null
      # shellcheck disable=SC2086
      timed "$bc" --progress never --s3-endpoint "$p" --mirror "s3://etag$n/mirror" --state "$work/st-etag" run --dry-run $hash
      curl -s "$p/_s3proxy/stats" > "$work/stats"
      walls+=("$wall"); rsses+=("$rss"); reqs+=("$(stat_of total)")
    done
    wall=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    local tag=${hash#--hash=}; tag=${tag:-listing}
    for k in download delete; do "$bc" --state "$work/st-etag" cat "plan/$k" | cut -d, -f1 | sort > "$work/plan-$tag-$k"; done
    local proven; proven=$(grep -ho 'proven:.*' "$work/err" "$work/out" 2>/dev/null | head -1 | sed 's/^proven: *//' || true)
    [ -z "$listing" ] && listing=$wall
    row "run --dry-run ${hash:-(sizes from the listing)}, S3 +20ms" "$n projects, $objects objects" "requests $(IFS=/; echo "${reqs[*]}"), RSS $(IFS=/; echo "${rsses[*]}") MiB, $(wc -l < "$work/plan-$tag-download") downloads, $(wc -l < "$work/plan-$tag-delete") deletes${proven:+; proven: $proven}" "$wall" "$(printf '%s\n' "${rsses[@]}" | sort -n | tail -1)" "$objects" "$(ratio "$wall" "$listing")× the listing's wall"
  done
  local same=no
  cmp -s "$work/plan-etag-download" "$work/plan-content-download" && cmp -s "$work/plan-etag-delete" "$work/plan-content-delete" && same=yes
  row "agreement: --hash=etag vs --hash=content" "$n projects" "the same download and delete paths: $same ($(wc -l < "$work/plan-content-download") downloads, $(wc -l < "$work/plan-content-delete") deletes); the listing's plan: $(wc -l < "$work/plan-listing-download") downloads" "-" "-" "-" "-"
  local bs=${BANDERSNATCH:-/tmp/bs-venv/bin/bandersnatch}
  if [ -x "$bs" ] && [ -x "$(dirname "$bs")/bandersnatch-http" ]; then
    cat > "$work/etag-bs.conf" <<CONF
[mirror]
directory = /etag$n/mirror
json = true
master = http://127.0.0.1:9
allow-non-https = true
storage-backend = s3
workers = 10
verifiers = 10
[s3]
region_name = us-east-1
aws_access_key_id = bench
aws_secret_access_key = benchsecret
endpoint_url = $p
signature_version = s3v4
CONF
    curl -s -XPOST "$p/_s3proxy/stats" > /dev/null
    if timed "$(dirname "$bs")/bandersnatch-http" -c "$work/etag-bs.conf" verify --delete --dry-run; then
      curl -s "$p/_s3proxy/stats" > "$work/stats"
      local fetched unowned
      fetched=$(grep -c 'would be fetched' "$work/err" "$work/out" | awk -F: '{s+=$NF} END{print s+0}')
      unowned=$(grep -ho '[0-9]* unowned files:' "$work/err" "$work/out" | head -1 | cut -d' ' -f1)
      row "bandersnatch verify --delete --dry-run, S3 +20ms" "$n projects, $objects objects" "one run: $(stat_of total) requests, $fetched would be fetched, ${unowned:-0} unowned" "$wall" "$rss" "$objects" "$(ratio "$wall" "$listing")× the listing's wall" "$wall" "$rss" "$objects" "$(ratio "$wall" "$listing")× the listing's wall"
    fi
  fi
  kill "$proxypid"; proxypid=
  kill "$s3pid"; s3pid=
}

bench_metadata() {
  local m="$work/meta-100k"
  [ -d "$m" ] || "$gm" mirror --out "$m" --upstream "$work/meta-up" --projects 100000 "${names_flag[@]}" --no-files --big-docs 3 --big-doc-mb 60
  local mb; mb=$(du -sm --apparent-size "$m/web/json" | cut -f1)
  ours() { rm -rf "$work/st-meta"; timed "$bc" --progress never --mirror "$m" --state "$work/st-meta" scan metadata; }
  ours
  median_timed ours
  row "scan metadata (JSON)" "100000 projects, $mb MB, 3 docs of 60 MB" "bandercheck" "$wall" "$rss" "100000" "$(awk -v m="$mb" -v w="$wall" 'BEGIN{printf "%.0f MB/s", m/w}')"
}

# scan metadata with three filters (exclude_platform, prerelease_release,
# latest_release) beside the same scan without any (issue: at most 20% slower)
bench_filters() {
  local m="$work/meta-100k"
  [ -d "$m" ] || "$gm" mirror --out "$m" --upstream "$work/meta-up" --projects 100000 "${names_flag[@]}" --no-files --big-docs 3 --big-doc-mb 60
  local mb; mb=$(du -sm --apparent-size "$m/web/json" | cut -f1)
  printf '[mirror]\njson = true\n' > "$work/plain.conf"
  printf '[mirror]\njson = true\n[plugins]\nenabled =\n    exclude_platform\n    prerelease_release\n    latest_release\n[blocklist]\nplatforms =\n    windows\n    macos\n[latest_release]\nkeep = 3\n' > "$work/filters.conf"
  for conf in plain filters; do
    ours() { rm -rf "$work/st-filters"; timed "$bc" --progress never --config "$work/$conf.conf" --mirror "$m" --state "$work/st-filters" scan metadata; }
    ours
    median_timed ours
    local rows; rows=$("$bc" --state "$work/st-filters" status | awk '$1=="designated"{print $6}')
    row "scan metadata (JSON), $conf config" "100000 projects, $mb MB; ${rows:-?} files designated" "bandercheck" "$wall" "$rss" "100000" "$(awk -v m="$mb" -v w="$wall" 'BEGIN{printf "%.0f MB/s", m/w}')"
  done
}

# scan storage --hash beside the coreutils floor (find | xargs -P2 sha256sum):
# every file read (--hash=full), a second scan of the unchanged mirror that
# reuses the digests (--hash --fresh: the first manifest becomes
# STATE/previous), and scan storage without hashing; warm page cache
bench_hash() {
  for n in ${HASH_SIZES:-10000 100000}; do
    local m="$work/run-$n"
    [ -d "$m" ] || "$gm" mirror --out "$m" --upstream "$work/run-up-$n" --projects "$n" "${names_flag[@]}"
    local files; files=$(find "$m/web/packages" -type f | wc -l)
    floor() { timed sh -c "cd '$m' && find web/packages -type f -print0 | xargs -0 -n 2000 -P2 sha256sum > /dev/null"; }
    full() { rm -rf "$work/st-hash"; timed "$bc" --progress never --mirror "$m" --state "$work/st-hash" scan storage --hash=full; }
    again() { timed "$bc" --progress never --mirror "$m" --state "$work/st-hash" scan storage --hash --fresh; }
    plain() { rm -rf "$work/st-plain"; timed "$bc" --progress never --mirror "$m" --state "$work/st-plain" scan storage; }
    floor; full # warm the cache
    median_timed floor; local fw=$wall fr=$rss
    median_timed full; local hw=$wall hr=$rss
    median_timed again; local aw=$wall ar=$rss
    median_timed plain
    row "hash: find \\| xargs -P2 sha256sum" "$n projects, $files files" "coreutils" "$fw" "$fr" "$files" "1.00"
    row "hash: scan storage --hash=full" "$n projects, $files files" "bandercheck" "$hw" "$hr" "$files" "$(ratio "$fw" "$hw")"
    row "hash: scan storage --hash, unchanged mirror (reuses)" "$n projects, $files files" "bandercheck" "$aw" "$ar" "$files" "$(ratio "$fw" "$aw")"
    row "hash: scan storage (no hash)" "$n projects, $files files" "bandercheck" "$wall" "$rss" "$files" "$(ratio "$fw" "$wall")"
  done
}

bench_plan() {
  for n in $PLAN_SIZES; do
    local s="$work/plan-$n"
    [ -d "$s" ] || "$gm" manifests --state "$s" --rows "$n"
    coreutils() {
      timed sh -c "
        zstdcat '$s'/designated/*.csv.zst | grep -v '^path,' | cut -d, -f1,3 | sort -S 256M -T '$work' -t, -k1,1 -u > '$work/d.txt'
        zstdcat '$s'/storage/*.csv.zst | grep -v '^path,' | cut -d, -f1,2 | sort -S 256M -T '$work' -t, -k1,1 > '$work/s.txt'
        join -t, -a1 -a2 -e NONE -o 0,1.2,2.2 '$work/d.txt' '$work/s.txt' |
          awk -F, '\$3==\"NONE\"{m++} \$2==\"NONE\"{u++} \$2!=\"NONE\"&&\$3!=\"NONE\"&&\$2!=\$3{x++} END{print m, u, x}'"
    }
    ours() { timed "$bc" --progress never --state "$s" plan --memory 256MiB; }
    coreutils; local rw=$wall rr=$rss
    ours
    row "plan" "$n designated + storage rows" "zstdcat \| sort -S 256M \| join" "$rw" "$rr" "$n" "1.00"
    row "plan" "$n designated + storage rows" "bandercheck --memory 256MiB" "$wall" "$rss" "$n" "$(ratio "$rw" "$wall")"
    rm -f "$work/d.txt" "$work/s.txt"
  done
}

bench_apply() {
  local m="$work/apply-mirror"
  rm -rf "$m" "$work/apply-up" "$work/st-apply"
  "$gm" mirror --out "$m" --upstream "$work/apply-up" --projects 1000 "${names_flag[@]}" --missing 1 --orphans 0 --size-mismatch 0 --hash-mismatch 0 --removed 0
  "$gm" serve --dir "$work/apply-up" > "$work/url" &
  server=$!
  for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
  local url; url=$(cat "$work/url")
  local g=(--progress never --mirror "$m" --state "$work/st-apply")
  mkdir -p "$m/web/packages"
  "$bc" "${g[@]}" scan storage && "$bc" "${g[@]}" scan metadata
  # every file is missing on purpose: lift --max-download (a build older than it has none)
  "$bc" "${g[@]}" plan --max-download 100% >/dev/null 2>&1 || "$bc" "${g[@]}" plan >/dev/null
  local n; n=$("$bc" --state "$work/st-apply" cat plan/download | tail -n +2 | wc -l)
  timed "$bc" "${g[@]}" apply --download-base "$url" --only download
  local mb; mb=$(du -sm --apparent-size "$m/web/packages" | cut -f1)
  row "apply download (POSIX, loopback upstream)" "$n small files, $mb MB" "bandercheck --jobs 8" "$wall" "$rss" "$n" "-"
  kill "$server"; server=
}

# apply's deletes on POSIX (every path walked from held descriptors, never
# following a link) beside rm through xargs and a find that prunes empty folders
bench_delete() {
  local n=${DELETE_FILES:-100000} m="$work/delete-mirror"
  prep() {
    rm -rf "$m" "$work/st-delete"
    "$gm" files --out "$m" --n "$n" >/dev/null
    mkdir -p "$m/web/json"
    "$bc" --progress never --mirror "$m" --state "$work/st-delete" scan storage
    "$bc" --progress never --mirror "$m" --state "$work/st-delete" scan metadata
    "$bc" --progress never --mirror "$m" --state "$work/st-delete" plan --grace 0s >/dev/null
    sync
  }
  reference() { timed sh -c "cd '$m' && find web/packages -type f -print0 | xargs -0 rm -f && find web/packages -mindepth 1 -type d -empty -delete"; }
  ours() { timed "$bc" --progress never --mirror "$m" --state "$work/st-delete" apply --only delete --max-delete 100%; }
  local rws=() ows=() rr=0 orr=0
  for _ in $(seq "$REPEAT"); do
    prep; reference; rws+=("$wall"); rr=$rss
    prep; ours; ows+=("$wall"); orr=$rss
  done
  local rw ow
  rw=$(printf '%s\n' "${rws[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  ow=$(printf '%s\n' "${ows[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  row "apply delete (POSIX)" "$n files" "find \| xargs rm; find -empty -delete" "$rw" "$rr" "$n" "1.00"
  row "apply delete (POSIX)" "$n files" "bandercheck (no link followed)" "$ow" "$orr" "$n" "$(ratio "$rw" "$ow")"
}

bench_run() {
  for n in $RUN_SIZES; do
    local m="$work/run-$n"
    [ -d "$m" ] || "$gm" mirror --out "$m" --upstream "$work/run-up-$n" --projects "$n" "${names_flag[@]}"
    "$gm" serve --dir "$work/run-up-$n" > "$work/url" &
    server=$!
    for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
    local url; url=$(cat "$work/url")
    local st="$work/st-run-$n" total=0 maxrss=0
    rm -rf "$st"
    local g=(--progress never --mirror "$m" --state "$st")
    for stage in "scan storage --hash" "scan metadata" "scan upstream --upstream $url" "plan"; do
      # shellcheck disable=SC2086
      timed "$bc" "${g[@]}" $stage
      local rows; rows=$({ grep -h . "$work/err" || true; } | tail -1 | awk '{print $(NF>2?2:1)}' | tr -dc 0-9)
      row "run --dry-run: ${stage%% --*}" "$n projects" "bandercheck" "$wall" "$rss" "${rows:--}" "-"
      total=$(awk -v a="$total" -v b="$wall" 'BEGIN{print a+b}'); [ "$rss" -gt "$maxrss" ] && maxrss=$rss
    done
    row "run --dry-run: total" "$n projects, $(find "$m/web/packages" -type f | wc -l) files" "bandercheck" "$total" "$maxrss" "-" "-"
    kill "$server"; server=
  done
}

# serve_synth N STEP [FLAG]: the synthetic upstream (genmirror warehouse) of N
# projects of 2 files at step STEP (1: 1% changed), on a fixed port, so the
# URLs in its documents stay the same across steps. FLAG --prerender renders
# every answer before it listens (side by side: each tool then costs the fake
# a copy per request, the same for both, not a rendering the first one pays)
serve_synth() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -f "$work/wurl"
  "$gm" warehouse --scenario synthetic --projects "$1" --files 2 --step "$2" --addr 127.0.0.1:18741 ${3:-} > "$work/wurl" &
  server=$!
  for _ in $(seq 3000); do [ -s "$work/wurl" ] && break; sleep 0.1; done
}
# sync_conf DIR RELEASE_FILES: a bandersnatch.conf for the synthetic upstream
sync_conf() {
  printf '[mirror]\ndirectory = %s\nmaster = http://127.0.0.1:18741\nallow-non-https = true\nworkers = 10\nrelease-files = %s\nroot_uri = https://files.example.org\n' "$1" "$2" > "$1.conf"
}
# sync_same OURS THEIRS CASE: says whether the two trees are the same after a
# case (but web/last-modified, the sync's start time)
sync_same() {
  if diff -r -x last-modified "$1" "$2" > "$work/sync-diff"; then
    echo "sync: $3: the two trees are the same (but web/last-modified)"
  else
    echo "sync: $3: the trees differ, see $work/sync-diff"
  fi
}
bench_sync() {
  local bs=${BANDERSNATCH:-/tmp/bs-venv/bin/bandersnatch}
  for n in ${SYNC_SIZES:-10000}; do
    for files in false true; do
      local what="metadata and pages only"; [ "$files" = true ] && what="with files (2 a project)"
      local ours="$work/sync-ours-$n-$files" theirs="$work/sync-bs-$n-$files"
      rm -rf "$ours" "$ours.st" "$theirs"; sync_conf "$ours" "$files"; sync_conf "$theirs" "$files"
      serve_synth "$n" 0 --prerender
      if [ -x "$bs" ]; then timed "$bs" -c "$theirs.conf" mirror; else wall=0 rss=0; fi
      local rw=$wall rr=$rss
      timed "$bc" --progress never --config "$ours.conf" --state "$ours.st" sync
      local reqs; reqs=$(awk -v d="$("$bc" --state "$ours.st" cat sync/files | grep -c ',downloaded$' || true)" -v n="$n" 'BEGIN{printf "%.2f", (n+d+1)/n}')
      row "sync: initial, $what" "$n projects" "bandersnatch mirror (workers 10)" "$rw" "$rr" "$n" "1.00"
      row "sync: initial, $what" "$n projects" "bandercheck sync ($reqs requests/project)" "$wall" "$rss" "$n" "$(ratio "$rw" "$wall")"
      if [ -x "$bs" ]; then sync_same "$ours" "$theirs" "initial, $what"; fi
      [ "$files" = true ] || continue
      # the incremental case SYNC_STEPS times (a different 1% each step),
      # the two tools alternating which goes first; medians are quoted
      local rws=() ows=() rr=0 orr=0
      for k in $(seq "${SYNC_STEPS:-5}"); do
        serve_synth "$n" "$k" --prerender
        theirs_step() { if [ -x "$bs" ]; then timed "$bs" -c "$theirs.conf" mirror; else wall=0 rss=0; fi; rws+=("$wall"); rr=$rss; }
        ours_step() { timed "$bc" --progress never --config "$ours.conf" --state "$ours.st" sync; ows+=("$wall"); orr=$rss; }
        if [ $((k % 2)) = 1 ]; then theirs_step; ours_step; else ours_step; theirs_step; fi
        echo "sync: incremental step $k: bandersnatch ${rws[-1]} s, bandercheck ${ows[-1]} s ($(ratio "${rws[-1]}" "${ows[-1]}")x)"
        if [ -x "$bs" ]; then sync_same "$ours" "$theirs" "incremental step $k"; fi
      done
      rw=$(printf '%s\n' "${rws[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
      local ow; ow=$(printf '%s\n' "${ows[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
      row "sync: incremental, 1% changed (median of ${#ows[@]} steps)" "$n projects" "bandersnatch mirror (workers 10)" "$rw" "$rr" "$((n / 100))" "1.00"
      row "sync: incremental, 1% changed (median of ${#ows[@]} steps)" "$n projects" "bandercheck sync" "$ow" "$orr" "$((n / 100))" "$(ratio "$rw" "$ow")"
    done
  done
  for n in ${SYNC_OURS_SIZES:-10000 100000}; do
    local ours="$work/sync-ours-alone-$n"
    rm -rf "$ours" "$ours.st"; sync_conf "$ours" false
    serve_synth "$n" 0
    timed "$bc" --progress never --config "$ours.conf" --state "$ours.st" sync
    row "sync: initial, metadata and pages only" "$n projects" "bandercheck sync" "$wall" "$rss" "$n" "-"
  done
  kill "$server"; server=
}

for s in $sections; do "bench_$s"; done
echo
echo "results in $results (work files in $work)"
