/*
 * tasktemplate.h: libtasktemplate, one Azure Batch task per input blob.
 *
 * What it does: parses the template options shared by `blobmill tasks`,
 * `run` and `submit`; lists the input container page by page through a
 * struct bm_blob_client (prefix, --include/--exclude fnmatch globs); expands
 * the command and output-name templates per blob; derives a task id; and
 * hands out each blob's task (struct task, task/task.h).
 *
 * What a task is (struct task, its JSON, shell words, the report) is
 * one folder down, in task/task.h, which batch/ and runner/ share.
 *
 * What it does not do: talk to Azure Batch, run tasks, or print anything.
 * Errors come back in a struct bm_error (one line, names the subject).
 *
 * Memory: the iterator holds one listing page (at most 5,000 names) and the
 * current task, never the whole listing; --skip-existing adds one set of
 * the output container's names (task_existing).
 *
 * Quoting contract (see docs/ARCHITECTURE.md, "task-template"):
 *   commandLine = /bin/sh -c 'SCRIPT' sh 'VALUE1' 'VALUE2' ...
 * SCRIPT is the user's --command with each placeholder replaced by a
 * reference to a positional parameter ("${1}", quoted to suit where it
 * stands in the template), so blob-derived bytes are never parsed by the
 * shell as code. Batch does not run commandLine through a shell; it splits
 * it into words like a POSIX shell does (blanks separate words, '...'
 * keeps everything literal, "..." and backslash escape, no expansion).
 * task_cmdline_split() implements exactly that splitting and is what
 * `blobmill run` uses, so a task runs locally as it would on a node.
 */
#ifndef BM_TASKTEMPLATE_H
#define BM_TASKTEMPLATE_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bm_blob.h"
#include "bm_error.h"
#include "task.h"

/* ------------------------------------------------------------------ */
/* Options shared by tasks/run/submit                                  */
/* ------------------------------------------------------------------ */

/*
 * Use TT_TEMPLATE_LONGOPTS inside a getopt_long option array (next to
 * CLI_CRED_LONGOPTS) and pass every option value in
 * [TT_OPT_FIRST, TT_OPT_LAST) to tt_options_set(). Then call
 * tt_options_finish() once, after the whole command line is parsed.
 */
enum {
	TT_OPT_FIRST = 0x1100,
	TT_OPT_INPUT = TT_OPT_FIRST,
	TT_OPT_PREFIX,
	TT_OPT_INCLUDE,
	TT_OPT_EXCLUDE,
	TT_OPT_OUTPUT,
	TT_OPT_IMAGE,
	TT_OPT_COMMAND,
	TT_OPT_RUN_OPTIONS,
	TT_OPT_OUTPUT_NAME,
	TT_OPT_IN_DIR,
	TT_OPT_OUT_DIR,
	TT_OPT_REGISTRY,
	TT_OPT_REGISTRY_USER,
	TT_OPT_REGISTRY_PASSWORD_ENV,
	TT_OPT_REGISTRY_PASSWORD_FILE,
	TT_OPT_SKIP_EXISTING,
	TT_OPT_ENV,
	TT_OPT_LAST,
};

/* clang-format off */
#define TT_TEMPLATE_LONGOPTS                                                   \
	{"input", required_argument, NULL, TT_OPT_INPUT},                      \
	{"prefix", required_argument, NULL, TT_OPT_PREFIX},                    \
	{"include", required_argument, NULL, TT_OPT_INCLUDE},                  \
	{"exclude", required_argument, NULL, TT_OPT_EXCLUDE},                  \
	{"output", required_argument, NULL, TT_OPT_OUTPUT},                    \
	{"image", required_argument, NULL, TT_OPT_IMAGE},                      \
	{"command", required_argument, NULL, TT_OPT_COMMAND},                  \
	{"run-options", required_argument, NULL, TT_OPT_RUN_OPTIONS},          \
	{"output-name", required_argument, NULL, TT_OPT_OUTPUT_NAME},          \
	{"in-dir", required_argument, NULL, TT_OPT_IN_DIR},                    \
	{"out-dir", required_argument, NULL, TT_OPT_OUT_DIR},                  \
	TT_REGISTRY_LONGOPTS,                                                  \
	{"skip-existing", no_argument, NULL, TT_OPT_SKIP_EXISTING},            \
	{"env", required_argument, NULL, TT_OPT_ENV}

/* The private registry's options, part of the above; `blobmill pool`
 * takes them too, for the images its nodes pull. */
#define TT_REGISTRY_LONGOPTS                                                   \
	{"registry", required_argument, NULL, TT_OPT_REGISTRY},                \
	{"registry-user", required_argument, NULL, TT_OPT_REGISTRY_USER},      \
	{"registry-password-env", required_argument, NULL,                     \
	 TT_OPT_REGISTRY_PASSWORD_ENV},                                        \
	{"registry-password-file", required_argument, NULL,                    \
	 TT_OPT_REGISTRY_PASSWORD_FILE}

/* Usage text for the options above, for a command's --help. */
#define TT_OPTIONS_HELP                                                        \
	"input and template options:\n"                                       \
	"  --input CONTAINER          container whose blobs become tasks\n"    \
	"  --prefix P                 only blobs whose name starts with P\n"   \
	"  --include GLOB             only names matching GLOB (repeatable)\n" \
	"  --exclude GLOB             skip names matching GLOB (repeatable)\n" \
	"  --output CONTAINER         where outputs go (for --skip-existing)\n"\
	"  --image IMAGE              container image of every task\n"         \
	"  --command TEMPLATE         command; '' keeps the image ENTRYPOINT\n"\
	"  --run-options OPTS         container run options (default\n"        \
	"                             '" TT_DEFAULT_RUN_OPTIONS "')\n"         \
	"  --output-name TEMPLATE     default '" TT_DEFAULT_OUTPUT_NAME "'\n"  \
	"  --in-dir DIR, --out-dir DIR  where the task sees the containers\n"  \
	"                             (default " TT_DEFAULT_IN_DIR ", "         \
	TT_DEFAULT_OUT_DIR ")\n"                                              \
	"  --registry SERVER, --registry-user USER,\n"                         \
	"  --registry-password-env VAR | --registry-password-file FILE\n"      \
	"                             private registry (password never argv)\n"\
	"  --skip-existing            skip blobs whose output exists and is\n" \
	"                             newer (one listing of --output)\n"       \
	"  --env NAME=VALUE, --env NAME  set NAME in every task (NAME alone:\n"\
	"                             its value here; unset: not passed);\n"   \
	"                             repeatable\n"                             \
	"placeholders: {name} {basename} {stem} {ext} {dir} {url} {index}\n"   \
	"  {in} {out}; {{ and }} are literal braces\n"

#define TT_DEFAULT_RUN_OPTIONS                                                 \
	"--volume /mnt/data-in:/data-in --volume /mnt/data-out:/data-out"
#define TT_DEFAULT_OUTPUT_NAME "{name}-result.txt"
#define TT_DEFAULT_IN_DIR "/data-in"
#define TT_DEFAULT_OUT_DIR "/data-out"
/* clang-format on */

struct tt_options {
	char *input;	   /* input container (required) */
	char *prefix;	   /* NULL: whole container */
	char **include;	   /* fnmatch globs on the full name; NULL-ended */
	char **exclude;	   /* NULL-ended */
	char *output;	   /* output container, NULL if not given */
	char *image;	   /* required by tt_options_finish */
	char *command;	   /* template; "" keeps the image ENTRYPOINT */
	char *run_options; /* default TT_DEFAULT_RUN_OPTIONS */
	char *output_name; /* template; default TT_DEFAULT_OUTPUT_NAME */
	char *in_dir;	   /* absolute; default TT_DEFAULT_IN_DIR */
	char *out_dir;	   /* absolute; default TT_DEFAULT_OUT_DIR */
	char *registry;	   /* registry server or NULL */
	char *registry_user;
	char *registry_password_env;  /* variable name, not the value */
	char *registry_password_file; /* path, not the value */
	char *registry_password;      /* read by tt_options_finish; wiped on
				       * release; registered with bm_redact */
	bool skip_existing;	      /* needs --output */
	bool command_set;	      /* --command was given (even as "") */
	bool image_optional;	      /* `run --runtime host`: no image */
	/* --env as given, then (tt_options_finish) NAME=VALUE only: a bare
	 * NAME takes its value from this environment or is dropped, as
	 * docker's -e does. NULL-ended. */
	char **env;
};

/* Sets the defaults above (strdup()ed, so options can replace them). */
void tt_options_init(struct tt_options *o);
/* Frees every field (wiping the password) and zeroes o; call
 * tt_options_init again to reuse it. */
void tt_options_release(struct tt_options *o);

/* Handles one option in [TT_OPT_FIRST, TT_OPT_LAST). -1 with err set
 * (BM_ERR_INVALID) on a bad value, e.g. a relative --in-dir. */
int tt_options_set(struct tt_options *o, int opt, const char *arg,
		   struct bm_error *err);

/*
 * Checks what needs the whole command line: --input, --image and --command
 * given, --skip-existing has --output, registry user and password come
 * together; parses both templates (so a brace error is reported before any
 * request); reads the registry password from the variable or the file
 * (trailing newline dropped). -1 with err set (BM_ERR_INVALID/CONFIG/IO).
 */
int tt_options_finish(struct tt_options *o, struct bm_error *err);

/* ------------------------------------------------------------------ */
/* Templates                                                           */
/* ------------------------------------------------------------------ */

enum tt_field {
	TT_F_NAME,     /* full blob name, may contain '/' */
	TT_F_BASENAME, /* after the last '/' */
	TT_F_STEM,     /* basename without its last extension */
	TT_F_EXT,      /* last extension with its dot (".txt"), or "" */
	TT_F_DIR,      /* before the last '/', or "" */
	TT_F_URL,      /* ENDPOINT/CONTAINER/ENCODED-NAME, no SAS */
	TT_F_INDEX,    /* 0-based position among the selected blobs */
	TT_F_IN,       /* in-dir + '/' + name */
	TT_F_OUT,      /* out-dir + '/' + output name */
	TT_F_COUNT,
};

/* The values of one blob's placeholders; tt_values_release frees them. */
struct tt_values {
	char *v[TT_F_COUNT];
};

/*
 * Computes every value for blob `name` (index: its position). out_name is
 * the expanded output name ({out} uses it); pass NULL while expanding the
 * output-name template itself, where {out} is an error. endpoint/container
 * make {url}. Returns -1 with err set only on allocation failure.
 */
int tt_values_init(struct tt_values *vals, const char *name, uint64_t index,
		   const char *in_dir, const char *out_dir,
		   const char *out_name, const char *endpoint,
		   const char *container, struct bm_error *err);
void tt_values_release(struct tt_values *vals);

/*
 * "Did you mean?" (tt_suggest.c). tt_edit_distance: edits (insert, delete,
 * replace, swap of neighbours) from a to b; (size_t)-1 for words over 64
 * bytes. tt_suggest: the candidate nearest to word[0..len) when it is
 * within a third of the word's length (1 to 3 edits), else NULL. NULL
 * entries of cands are skipped. Returns one of cands (not a copy).
 */
size_t tt_edit_distance(const char *a, size_t alen, const char *b, size_t blen);
const char *tt_suggest(const char *word, size_t len, const char *const *cands,
		       size_t ncands);

struct tt_template;

/*
 * Parses `text`. `what` names the template in errors, e.g. "--command":
 *   "--command: unknown placeholder '{nmae}' at column 12: did you mean
 *    {name}? (write '{{nmae}}' for literal braces)"
 *   "--command: unclosed '{' at column 5 (write '{{' for a literal brace)",
 *    also for "{in > {out}", whose first brace never closes
 *   "--command: unmatched '}' at column 9 (write '}}' for a literal brace)"
 * shell_words: the template is shell code (--command). Its quoting is
 * tracked so each placeholder expands to one word whatever quotes surround
 * it; an unterminated quote is an error naming its column.
 * *out is malloc()ed; the caller frees it with tt_template_free.
 */
int tt_template_parse(const char *text, const char *what, bool shell_words,
		      struct tt_template **out, struct bm_error *err);
void tt_template_free(struct tt_template *t);
/* True when the template uses placeholder f. */
bool tt_template_uses(const struct tt_template *t, enum tt_field f);

/* Plain expansion (the output name): placeholders replaced by their values
 * verbatim. Returns a malloc()ed string (caller frees), NULL on error. */
char *tt_template_expand(const struct tt_template *t,
			 const struct tt_values *vals, struct bm_error *err);

/*
 * The Batch commandLine for a shell-words template:
 *   /bin/sh -c 'mkdir -p -- "${1}" || exit; SCRIPT' sh 'V1' 'V2' ...
 * mkdir_dir (NULL or "": none) is the output's parent directory, created
 * before the app runs. Every value is single-quoted for Batch's splitter.
 * An empty template gives "" (the image ENTRYPOINT runs). malloc()ed.
 */
char *tt_command_line(const struct tt_template *t, const struct tt_values *vals,
		      const char *mkdir_dir, struct bm_error *err);

/* ------------------------------------------------------------------ */
/* Specs, tasks and the streaming iterator                             */
/* ------------------------------------------------------------------ */

struct tt_spec; /* options compiled: templates parsed, globs, endpoint */

/* Makes a spec from finished options. endpoint is the blob endpoint (for
 * {url}; no SAS). The spec keeps pointers into o: keep o alive and
 * unchanged until tt_spec_free. *out is malloc()ed. */
int tt_spec_new(const struct tt_options *o, const char *endpoint,
		struct tt_spec **out, struct bm_error *err);
void tt_spec_free(struct tt_spec *s);
const struct task_container *tt_spec_container(const struct tt_spec *s);
/* The options the spec was made from. */
const struct tt_options *tt_spec_options(const struct tt_spec *s);

/* True when `name` passes prefix/include/exclude and is not a blobfuse
 * directory marker (callers pass is_dir_marker from the listing). */
bool tt_spec_selects(const struct tt_spec *s, const char *name,
		     bool is_dir_marker);

/*
 * Builds the task of one blob (for tests and callers with a name list).
 * Fills *t; release with task_release. A blob that cannot become a
 * task is BM_ERR_INVALID with the reason (not naming the blob): its
 * output name empty, over 1,024 bytes or not a relative path
 * (task_name_path_problem), or its own name not a relative path while the
 * command uses {in}. Any other error (allocation) concerns every blob.
 */
int tt_task_make(const struct tt_spec *s, const char *name, uint64_t index,
		 uint64_t size, time_t mtime, struct task *t,
		 struct bm_error *err);

struct tt_iter_stats {
	uint64_t listed;   /* blobs seen in the listing */
	uint64_t selected; /* passed the filters (tasks + skipped + invalid) */
	uint64_t skipped;  /* covered by an existing output */
	uint64_t invalid;  /* cannot become a task (tt_task_make's rule) */
	uint64_t pages;	   /* List Blobs pages fetched */
	size_t page_peak;  /* most entries held at once (one page) */
};

struct tt_iter;

/*
 * Opens a streaming listing of the spec's input container through c (which
 * must outlive the iterator). existing (NULL: none) skips covered blobs.
 * page_size 0: the service default (5,000). Nothing is requested until the
 * first tt_iter_next. *out is malloc()ed; tt_iter_free.
 */
int tt_iter_open(struct bm_blob_client *c, const struct tt_spec *s,
		 const struct task_existing *existing, int page_size,
		 struct tt_iter **out, struct bm_error *err);

/*
 * The next task: 1 with *task set (valid until the next call or
 * tt_iter_free), 0 when the listing is done, -1 with err set (a listing
 * error, e.g. BM_ERR_NO_CONTAINER "input container 'x' does not exist").
 */
int tt_iter_next(struct tt_iter *it, const struct task **task,
		 struct bm_error *err);
void tt_iter_stats(const struct tt_iter *it, struct tt_iter_stats *out);

/* True once the listing's last page is in (the iterator holds one page,
 * so for most runs that is the first request); *selected is then every
 * blob the filters pass, handed out or not (skipped and invalid ones
 * included). */
bool tt_iter_listed_all(const struct tt_iter *it, uint64_t *selected);

/* Calls fn for every selected blob the iterator skips, in listing order,
 * from inside tt_iter_next (the pointers live for the call). */
typedef void (*tt_skip_fn)(const struct task_skip *sk, void *ud);
void tt_iter_on_skip(struct tt_iter *it, tt_skip_fn fn, void *ud);
void tt_iter_free(struct tt_iter *it);

#endif
