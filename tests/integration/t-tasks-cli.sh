#!/bin/bash
# blobmill tasks against Azurite: the JSON array az batch accepts, JSON
# lines, the human listing, ids unique without regard to case, the seed
# workflow's command, and one-line errors for bad templates and input.
. "$top_srcdir/tests/integration/tasks-lib.sh"

tasks_setup
# Names that differ only in case must still get distinct ids.
for n in CaseName.TXT casename.txt; do
	printf x | "$BLOBMILL" put - "data-in/$n" || fail "put $n"
done
N=$((${#HOSTILE_NAMES[@]} + 2))

SEED=(--input data-in --image myregistry.azurecr.io/app:1
	--command 'python app.py /data-in/{name} /data-out/{name}-result.txt'
	--run-options '--workdir /app --volume /mnt/data-in:/data-in --volume /mnt/data-out:/data-out')

"$BLOBMILL" tasks "${SEED[@]}" >"$T/tasks.json" || fail "tasks"
python3 - "$T/tasks.json" "$N" <<'EOF' || fail "tasks JSON"
import json, re, shlex, sys
tasks = json.load(open(sys.argv[1]))
assert isinstance(tasks, list) and len(tasks) == int(sys.argv[2]), len(tasks)
ids = [t["id"] for t in tasks]
for i in ids:
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", i), i
assert len(set(i.lower() for i in ids)) == len(ids), "ids collide ignoring case"
by_name = {t["displayName"]: t for t in tasks}
t = by_name["plain.txt"]
assert t["commandLine"] == ("/bin/sh -c 'python app.py /data-in/plain.txt "
                            "/data-out/plain.txt-result.txt'"), t["commandLine"]
cs = t["containerSettings"]
assert cs["imageName"] == "myregistry.azurecr.io/app:1"
assert cs["workingDirectory"] == "containerImageDefault"
assert cs["containerRunOptions"].startswith("--workdir /app")
# Batch splits commandLine like a POSIX shell without expansion, which is
# what shlex does: the script gets exactly the name as its parameter.
for name, t in by_name.items():
    argv = shlex.split(t["commandLine"])
    assert argv[:2] == ["/bin/sh", "-c"], argv
    # a name of plain characters stands in the script as it is; any
    # other is passed as a positional parameter, never inside the script
    if len(argv) > 3:
        assert name in argv[4:] and name not in argv[2], (name, argv)
    else:
        assert "/data-in/" + name + " " in argv[2], (name, argv)
print("ok: %d tasks, ids valid and unique ignoring case" % len(tasks))
EOF

"$BLOBMILL" tasks "${SEED[@]}" --format jsonl >"$T/tasks.jsonl" || fail "jsonl"
expect_eq "jsonl lines" "$N" "$(wc -l <"$T/tasks.jsonl")"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' \
	"$T/tasks.jsonl" || fail "jsonl parses"

"$BLOBMILL" tasks "${SEED[@]}" --dry-run >"$T/dry" || fail "dry-run"
grep -qF '"new\nline.txt" -> new_line_txt-' "$T/dry" || {
	cat "$T/dry" >&2
	fail "dry-run quotes a name holding a newline"
}
# The command shown is the JSON's commandLine byte for byte (a backslash
# in the user's shell code stays one backslash).
"$BLOBMILL" tasks "${SEED[@]}" --command 'sed "s/\.txt$//" {in}' \
	--format jsonl >"$T/bs.jsonl" || fail "tasks with a backslash"
"$BLOBMILL" tasks "${SEED[@]}" --command 'sed "s/\.txt$//" {in}' \
	--dry-run >"$T/bs.dry" || fail "dry-run with a backslash"
python3 - "$T/bs.jsonl" "$T/bs.dry" <<'EOF' || fail "dry-run differs from the JSON"
import json, sys
tasks = [json.loads(l) for l in open(sys.argv[1])]
lines = open(sys.argv[2]).read().splitlines()
plain = [t for t in tasks if all(ord(c) >= 32 for c in t["commandLine"])]
assert plain, "no task"
for t in plain:
    want = " -> %s -> %s" % (t["id"], t["commandLine"])
    assert any(l.endswith(want) for l in lines), (want, lines)
EOF
echo "ok: --dry-run shows the JSON's commandLine exactly"
grep -q "^$N tasks from $N blobs listed" "$T/dry" || fail "dry-run summary"
echo "ok: --dry-run"

# Filters.
"$BLOBMILL" tasks "${SEED[@]}" --prefix dir/ --exclude '*nested*' \
	--format jsonl >"$T/f" || fail "filters"
expect_eq "prefix and exclude" 1 "$(wc -l <"$T/f")"

# Errors: one line, nonzero, naming the cause.
err=$("$BLOBMILL" tasks "${SEED[@]}" --command 'app {nmae}' 2>&1 >/dev/null)
expect_eq "unknown placeholder" \
	"blobmill: tasks: --command: unknown placeholder '{nmae}' at column 5: did you mean {name}? (write '{{nmae}}' for literal braces)" "$err"
err=$("$BLOBMILL" tasks "${SEED[@]}" --input nosuch 2>&1 >/dev/null) &&
	fail "missing container must fail"
case "$err" in
*"input container 'nosuch'"*) echo "ok: missing input container: $err" ;;
*) fail "missing container message: $err" ;;
esac
expect_eq "one line" 1 "$(printf '%s\n' "$err" | wc -l)"
"$BLOBMILL" tasks --input data-in --image x >/dev/null 2>"$T/e" &&
	fail "--command is required"
grep -q -- "--command TEMPLATE is required" "$T/e" || fail "missing --command"
echo "ok: errors"
