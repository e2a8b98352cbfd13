#!/bin/sh
# test-out-of-tree.sh — the plugin SDK as an outside author meets it: install
# m3ret into a scratch root, check that it installed the SDK's headers only,
# each usable alone, build examples/plugin-netpbm there with nothing but
# `pkg-config m3ret-plugin m3ret-readers`, run the modality conformance suite
# on it, and check that the installed m3ret lists the plugin and reads a file
# with it.  Then the same for the objective example examples/plugin-dino
# (`pkg-config m3ret-plugin` alone): the objective conformance suite on it,
# a closed-form value of its loss, and a few training steps with the
# installed m3ret and `[objective] plugin=dino`.
set -eu

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root="$tmp/root"

if ! make -C "$M3RET_TOP_BUILDDIR" install DESTDIR="$root" >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log"
  echo "FAIL: make install DESTDIR=$root"
  exit 1
fi
libdir="$root$M3RET_LIBDIR"
# The .pc files name the configured prefix; relocate them into the scratch root.
for pc in "$libdir"/pkgconfig/*.pc; do
  sed -i "s|^prefix=.*|prefix=$root$M3RET_PREFIX|" "$pc"
done

# The installed headers are the SDK alone: none of the core's private ones,
# and each compiles by itself against the installed folder only.
incdir=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --variable=includedir m3ret-plugin)/m3ret
for private in m3ret.h m3ret-pipeline.h m3ret-settings.h m3ret-registry.h m3ret-manifest.h \
  m3ret-loader.h m3ret-trainer.h m3ret-index.h m3ret-embedder.h m3ret-checkpoint.h; do
  test ! -e "$incdir/$private" || { echo "FAIL: the private header $private is installed"; exit 1; }
done
test ! -e "$libdir/pkgconfig/m3ret.pc" || { echo "FAIL: m3ret.pc is installed"; exit 1; }
cflags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags m3ret-plugin m3ret-readers)
for header in "$incdir"/*.h; do
  name=$(basename "$header")
  printf '#include "%s"\n' "$name" >"$tmp/one.c"
  # shellcheck disable=SC2086 # the flags are words
  ${CC:-cc} -fsyntax-only $cflags "$tmp/one.c" 2>"$tmp/one.log" ||
    { cat "$tmp/one.log"; echo "FAIL: the installed $name does not compile by itself"; exit 1; }
done

cp -R "$M3RET_TEST_SRCDIR/../examples/plugin-netpbm" "$tmp/example"
chmod -R u+w "$tmp/example"
rm -f "$tmp/example/m3ret-netpbm.so"
if ! PKG_CONFIG_PATH="$libdir/pkgconfig" make -C "$tmp/example" >"$tmp/build.log" 2>&1; then
  cat "$tmp/build.log"
  echo "FAIL: building the example against the installed SDK"
  exit 1
fi

# The modality conformance suite of the build tree finds the example on
# its plugin path as it finds the in-tree modalities, and runs the same
# checks on it (before LD_LIBRARY_PATH names the scratch root: the suite
# and the plugin share the build tree's libm3ret).
if ! env -u M3RET_TEST_PLUGIN_PATH \
    M3RET_PLUGIN_PATH="$M3RET_TOP_BUILDDIR/modalities/.libs:$tmp/example" \
    "$M3RET_TEST_BUILDDIR/conform-modality" >"$tmp/conform.txt" 2>&1; then
  cat "$tmp/conform.txt"
  echo "FAIL: conform-modality with the example plugin"
  exit 1
fi
grep -q "^conform-modality: netpbm: own file fixture-grey.pgm" "$tmp/conform.txt" ||
  { cat "$tmp/conform.txt"; echo "FAIL: conform-modality did not check the example plugin"; exit 1; }
grep "^conform-modality: netpbm: " "$tmp/conform.txt"

# The objective example: built with `pkg-config m3ret-plugin` alone, then
# the build tree's objective conformance suite on it (finite loss, finite
# differences, state round trip, determinism).
cp -R "$M3RET_TEST_SRCDIR/../examples/plugin-dino" "$tmp/dino"
chmod -R u+w "$tmp/dino"
rm -f "$tmp/dino/m3ret-dino.so"
if ! PKG_CONFIG_PATH="$libdir/pkgconfig" make -C "$tmp/dino" >"$tmp/dino-build.log" 2>&1; then
  cat "$tmp/dino-build.log"
  echo "FAIL: building the DINO example against the installed SDK"
  exit 1
fi
if ! env -u M3RET_TEST_PLUGIN_PATH \
    M3RET_PLUGIN_PATH="$M3RET_TOP_BUILDDIR/backends/.libs:$tmp/dino" \
    "$M3RET_TEST_BUILDDIR/conform-objective" >"$tmp/conform-dino.txt" 2>&1; then
  cat "$tmp/conform-dino.txt"
  echo "FAIL: conform-objective with the DINO example"
  exit 1
fi
for what in "view(s), loss" "encoder tensors match finite differences" "saved and loaded" \
  "two runs from one seed"; do
  grep -q "^conform-objective: dino: .*$what" "$tmp/conform-dino.txt" ||
    { cat "$tmp/conform-dino.txt"; echo "FAIL: conform-objective did not check dino ($what)"; exit 1; }
done
grep "^conform-objective: dino: " "$tmp/conform-dino.txt"

export LD_LIBRARY_PATH="$libdir"
export M3RET_PLUGIN_SYSTEM_PATH="$root$M3RET_PKGLIBDIR"
export M3RET_PLUGIN_PATH="$tmp/example"
m3ret="$root$M3RET_BINDIR/m3ret"

"$m3ret" plugins --kind modality >"$tmp/plugins.txt"
grep -q "^modality *netpbm .*$tmp/example/m3ret-netpbm.so" "$tmp/plugins.txt" ||
  { cat "$tmp/plugins.txt"; echo "FAIL: the example plugin is not listed"; exit 1; }
grep -q "^modality *xray .*$M3RET_PKGLIBDIR" "$tmp/plugins.txt" ||
  { cat "$tmp/plugins.txt"; echo "FAIL: the installed plugins are not listed"; exit 1; }
"$m3ret" plugins netpbm | grep -q "flips" ||
  { echo "FAIL: the example's keys (the readers library's common keys) are not shown"; exit 1; }

# A 4×3 grey image: the probe claims it and the plugin reads it.
printf 'P5\n4 3\n255\n\000\020\040\060\100\120\140\160\200\220\240\377' >"$tmp/photo.pgm"
"$m3ret" inspect "$tmp/photo.pgm" >"$tmp/inspect.txt" 2>&1 ||
  { cat "$tmp/inspect.txt"; echo "FAIL: inspect"; exit 1; }
grep -q "netpbm" "$tmp/inspect.txt" || { cat "$tmp/inspect.txt"; echo "FAIL: not claimed by netpbm"; exit 1; }

# The run's [data] limits reach it through the readers library's set_limits.
printf '[data]\nmax_pixels=4\n' >"$tmp/small.ini"
if "$m3ret" inspect -p "$tmp/small.ini" "$tmp/photo.pgm" >"$tmp/small.txt" 2>&1 ||
  ! grep -q "max_pixels=4" "$tmp/small.txt"; then
  cat "$tmp/small.txt"; echo "FAIL: [data] max_pixels did not reach the example"; exit 1
fi

# And through the installed pipeline machinery: embed it with a micro encoder.
cat >"$tmp/p.ini" <<INI
[input]
size=16
depth=2
tubelet=2,8,8
[encoder]
preset=micro
INI
printf 'path,modality,label\nphoto.pgm,netpbm,skin\n' >"$tmp/m.csv"
"$m3ret" embed "$tmp/p.ini" --checkpoint random --manifest "$tmp/m.csv" --out "$tmp/e.npy" \
  >"$tmp/embed.txt" 2>&1 || { cat "$tmp/embed.txt"; echo "FAIL: embed"; exit 1; }
test -s "$tmp/e.npy" || { echo "FAIL: no embeddings written"; exit 1; }

# The installed m3ret trains with the DINO example: `[objective] plugin=dino`.
export M3RET_PLUGIN_PATH="$tmp/example:$tmp/dino"
"$m3ret" plugins --kind objective >"$tmp/objectives.txt"
grep -q "^objective *dino .*$tmp/dino/m3ret-dino.so" "$tmp/objectives.txt" ||
  { cat "$tmp/objectives.txt"; echo "FAIL: the DINO example is not listed"; exit 1; }
"$m3ret" synth --out "$tmp/data" --per-class 1 --size 32 --frames 8 --seed 1 \
  --modalities xray,endoscopy >"$tmp/synth.txt" 2>&1 || { cat "$tmp/synth.txt"; echo "FAIL: synth"; exit 1; }
dino_ini() { # $1: extra [objective] lines, $2: steps
  cat <<INI
[pipeline]
threads=2
seed=3
[input]
size=32
depth=8
tubelet=2,8,8
[encoder]
preset=micro
[objective]
plugin=dino
head_hidden=64
bottleneck=32
out_dim=64
global_crops=2
local_crops=2
$1
[data]
train=$tmp/data/manifest.csv
[train]
batch=4
steps=$2
lr=5e-4
warmup=1
clip_grad=3.0
checkpoint_every=0
[retriever]
plugin=flat
INI
}
dino_ini "" 4 >"$tmp/dino.ini"
"$m3ret" train "$tmp/dino.ini" --out "$tmp/dino-run" --quiet >"$tmp/train.txt" 2>&1 ||
  { cat "$tmp/train.txt"; echo "FAIL: m3ret train with plugin=dino"; exit 1; }
test -s "$tmp/dino-run/checkpoint.safetensors" || { echo "FAIL: no DINO checkpoint written"; exit 1; }
grep -q "teacher.center" "$tmp/dino-run/checkpoint.safetensors" ||
  { echo "FAIL: the DINO checkpoint does not hold the teacher's center"; exit 1; }
awk -F, 'NR > 1 { n++; if ($2 != $2 + 0 || $2 ~ /nan|inf/) bad = 1; printf "dino: step %s loss %s\n", $1, $2 }
  END { exit (n == 4 && !bad) ? 0 : 1 }' "$tmp/dino-run/train-log.csv" ||
  { cat "$tmp/dino-run/train-log.csv"; echo "FAIL: the DINO losses are not four finite values"; exit 1; }

# Closed form: with τs = τt = 100 every logit (a cosine in [−1, 1]) over
# the temperature lies in [−0.01, 0.01], so both softmaxes are uniform to
# within 1% and H(p, q) = logsumexp(s/τs) − Σ p·s/τs = ln K ± 0.02
# (ln 64 = 4.15888) for every pair, whatever the weights.
dino_ini "student_temp=100
teacher_temp=100
warmup_teacher_temp=100" 1 >"$tmp/dino-flat.ini"
"$m3ret" train "$tmp/dino-flat.ini" --out "$tmp/dino-flat" --quiet >"$tmp/flat.txt" 2>&1 ||
  { cat "$tmp/flat.txt"; echo "FAIL: m3ret train with plugin=dino at τ = 100"; exit 1; }
awk -F, 'NR == 2 { d = $2 - log (64); printf "dino: at tau 100 the loss is %s, ln 64 = %.5f\n", $2, log (64);
  ok = d < 0.02 && d > -0.02 } END { exit ok ? 0 : 1 }' "$tmp/dino-flat/train-log.csv" ||
  { cat "$tmp/dino-flat/train-log.csv"; echo "FAIL: the DINO loss at τ = 100 is not ln K"; exit 1; }
echo "PASS: out-of-tree plugin built with pkg-config m3ret-plugin m3ret-readers, listed and used; the DINO objective built with pkg-config m3ret-plugin, conformant and trained"
