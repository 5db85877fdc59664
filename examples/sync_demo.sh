#!/usr/bin/env bash
# The main job on the embedded default store (a local folder): push, a change, a delta push, a pull into a
# fresh folder, and a check that the two trees are identical.
set -euo pipefail
cd "$(dirname "$0")/.."
objstore=.venv/bin/objstore
export OBJSTORE_HOME="$PWD/demo-home"   # the embedded default store lives in $OBJSTORE_HOME/store
unset OBJSTORE_URL NAAS_API_KEY
rm -rf demo-home demo-storage demo-restored
mkdir -p demo-storage/reports/2026 demo-storage/images
for i in $(seq 1 20); do echo "row $i" > "demo-storage/reports/2026/r$i.csv"; done
printf 'binary\0data' > demo-storage/images/logo.bin
echo "first version" > demo-storage/notes.txt

echo; echo "== push demo-storage/ to the default store ($OBJSTORE_HOME/store)"
$objstore push demo-storage
echo; echo "== push again: nothing changed, nothing is read or sent"
$objstore push demo-storage
echo; echo "== change a file without changing its size or mtime, delete one, add one"
stamp=$(stat -c %Y demo-storage/notes.txt)
echo "FIRST VERSION" > demo-storage/notes.txt && touch -d "@$stamp" demo-storage/notes.txt
rm demo-storage/reports/2026/r1.csv
echo "new" > demo-storage/reports/2026/new.csv
$objstore push demo-storage --dry-run
$objstore push demo-storage
echo; echo "== pull into a fresh folder and compare"
$objstore pull demo-restored
diff -r -x .objstore demo-storage demo-restored && echo "identical: demo-storage/ and demo-restored/"
