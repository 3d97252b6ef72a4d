#!/usr/bin/env bash
# A nightly drop with one blob that cannot become a task (issue 13): a
# 1,019-character name, so "{name}-result.txt" passes Azure's 1,024
# bytes. `tasks`, `run` and `submit` name it once on stderr with the
# reason, make every other blob its task, count it in their summary and
# exit 1; `run --report` and `submit --wait --report` write one JSON line
# per selected blob. `run --runtime host` works with its default,
# relative run directory from a fresh working directory, without --image.
. "$top_srcdir/tests/integration/batch-lib.sh"

bm mb data-in >/dev/null || fail "mb data-in"
bm mb data-out >/dev/null || fail "mb data-out"
for n in a b c fail; do
	printf 'night %s' "$n" | bm put - "data-in/night/$n.txt" ||
		fail "put night/$n.txt"
done
# 1,019 characters in folders (no component past NAME_MAX): only the
# output name is impossible.
long=$(python3 -c 'print("night/" + "/".join(["x" * 200] * 6)[:1013], end="")')
[ ${#long} -eq 1019 ] || fail "the long name is ${#long} characters"
printf 'night long' | bm put - "data-in/$long" || fail "put the long name"

# check_skip_line ERRFILE CMD: the long blob named once, with the reason.
check_skip_line() {
	expect_eq "$2: one line names the impossible blob" 1 \
		"$(grep -cF "blobmill: $2: skipped blob '$long': its output name is 1030 bytes (a blob name is 1 to 1,024)" "$1")"
	grep -q "^blobmill: $2: 1 of 5 selected blobs skipped: they cannot become tasks" "$1" ||
		{ cat "$1" >&2; fail "$2: no skip summary"; }
}

echo "--- tasks: valid JSON with the 4 others, exit 1"
bm tasks --input data-in --image app:1 --command 'app {in} {out}' \
	>tasks.json 2>tasks.err && fail "tasks exited 0 with a skipped blob"
check_skip_line tasks.err tasks
expect_eq "tasks: the others are tasks" \
	"night/a.txt night/b.txt night/c.txt night/fail.txt" \
	"$(jq_py '" ".join(t["displayName"] for t in d)' <tasks.json)"

# report_field FILE BLOB EXPR: EXPR over the report line of BLOB.
report_field() {
	python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
hits = [l for l in lines if l["blob"] == sys.argv[2]]
assert len(hits) == 1, "%d lines for %r" % (len(hits), sys.argv[2])
d = hits[0]
v = eval(sys.argv[3])
print(" ".join(map(str, v)) if isinstance(v, tuple) else v)
EOF
}

if command -v bwrap >/dev/null && bwrap --dev-bind / / true 2>/dev/null; then
	echo "--- run: host runtime from a fresh directory, default run dir"
	fresh=$(mktemp -d "$batch_test_dir/cwd.XXXXXX")
	cmd='case {name} in *fail*) exit 4 ;; esac; cat {in} > {out}'
	(cd "$fresh" && bm run --runtime host --stage --input data-in \
		--output data-out --command "$cmd" --max-retries 1 \
		--report report.jsonl) \
		>run.out 2>run.err && fail "run exited 0 with a skipped blob"
	cat run.out run.err
	grep -q "Can't chdir" "$fresh"/blobmill-run/*/stderr.txt &&
		fail "bwrap could not enter the relative run directory"
	grep -q "^run: 4 tasks: 3 succeeded, 1 failed, 1 retries; 0 skipped (output exists); 1 skipped (cannot become a task); .*; task files in $fresh/blobmill-run$" run.out ||
		fail "run summary"
	check_skip_line run.err run
	for n in a b c; do
		expect_eq "run: output of $n" "night $n" \
			"$(bm get "data-out/night/$n.txt-result.txt" -)"
	done
	r=$fresh/report.jsonl
	expect_eq "run: one report line per selected blob" 5 "$(wc -l <"$r")"
	expect_eq "run: a succeeded" "succeeded 0 0 True night/a.txt-result.txt" \
		"$(report_field "$r" night/a.txt 'd["state"], d["exit_code"], d["retries"], d["output_exists"], d["output"]')"
	expect_eq "run: fail failed after its retry" "failed 4 1 False exit status 4 after 2 attempts" \
		"$(report_field "$r" night/fail.txt 'd["state"], d["exit_code"], d["retries"], d["output_exists"], d["reason"]')"
	expect_eq "run: the long name invalid" "invalid None None True" \
		"$(report_field "$r" "$long" 'd["state"], d["exit_code"], d["output"], d["reason"].startswith("its output name is 1030 bytes")')"
	expect_eq "run: task id and duration" "True True" \
		"$(report_field "$r" night/b.txt 'd["task_id"].startswith("b_txt-"), d["duration_s"] >= 0')"

	echo "--- run again with --skip-existing: the done ones are reported so"
	(cd "$fresh" && bm run --runtime host --stage --input data-in \
		--output data-out --command "$cmd" --skip-existing \
		--report report2.jsonl) >run2.out 2>run2.err &&
		fail "rerun exited 0"
	expect_eq "rerun: skipped-existing" "skipped-existing True" \
		"$(report_field "$fresh/report2.jsonl" night/c.txt 'd["state"], d["output_exists"]')"
	expect_eq "rerun: five lines" 5 "$(wc -l <"$fresh/report2.jsonl")"
else
	echo "note: bubblewrap cannot run here: run not checked"
fi

echo "--- submit --wait --report against the Batch stand-in"
batch_start --pool pool1
batch_ctl '{"active_secs": 0.2, "run_secs": 0.3, "fail_pattern": "fail", "fail_exit": 4, "fail_retries": 2}'
submit --pool pool1 --job nightly --output data-out --wait \
	--report sub.jsonl >sub.out 2>sub.err && fail "submit exited 0 with a skipped blob"
cat sub.out sub.err
grep -q "^job 'nightly': added 4 tasks" sub.out || fail "submit: the 4 others added"
grep -q "^job 'nightly': 4 tasks completed: 3 succeeded, 1 failed$" sub.out ||
	fail "submit: summary"
check_skip_line sub.err submit
expect_eq "submit: one report line per selected blob" 5 "$(wc -l <sub.jsonl)"
expect_eq "submit: a succeeded" "succeeded 0 0 night/a.txt-result.txt True" \
	"$(report_field sub.jsonl night/a.txt 'd["state"], d["exit_code"], d["retries"], d["output"], d["duration_s"] > 0')"
expect_eq "submit: fail failed after its retries" "failed 4 2" \
	"$(report_field sub.jsonl night/fail.txt 'd["state"], d["exit_code"], d["retries"]')"
expect_eq "submit: invalid" "invalid" "$(report_field sub.jsonl "$long" 'd["state"]')"

echo "--- a task the service refuses is reported not-added"
fid=$(jq_py '[t["id"] for t in d if t["displayName"] == "night/b.txt"][0]' <tasks.json)
batch_ctl "{\"clienterror\": {\"$fid\": \"refused by the test\"}}"
submit --pool pool1 --job partial --wait --report part.jsonl >part.out 2>part.err &&
	fail "a partial add exited 0"
expect_eq "submit: not-added" "not-added True" \
	"$(report_field part.jsonl night/b.txt 'd["state"], "refused by the test" in d["reason"]')"
expect_eq "submit: the others still have their line" 5 "$(wc -l <part.jsonl)"
echo "ok: one impossible blob is named and skipped; the rest complete and are reported"
