/*
 * bf2_config: blobfuse2's YAML config file, read with libyaml, for the
 * parts that map onto blobmill-fuse (see blobmill-fuse(8), BLOBFUSE2
 * CONFIGURATION). It only reads and checks the file: which value wins
 * over the environment and the flags, and what it becomes, is
 * bf2_cli.c's business.
 *
 * Rules, as for the v1 config file: an unknown key or section, a value of
 * the wrong type, a key given twice, or a component we do not have is one
 * error line naming the file, the line and the key ("in.yaml:7: unknown
 * key 'azstorage.acount-name' (did you mean 'account-name'?)"). Keys that
 * blobfuse2 knows but that change nothing here are accepted with one
 * warning each, never silently. Secrets (account-key, sas, clientsecret)
 * are registered for redaction as soon as they are read and never echoed.
 */
#ifndef BF2_CONFIG_H
#define BF2_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "bm_error.h"

/* A value from the file: line is 0 when the file does not set it. */
struct bf2_num {
	unsigned line;
	unsigned long v;
};
struct bf2_bool {
	unsigned line;
	bool v;
};
struct bf2_str {
	unsigned line;
	char *v; /* malloc()ed; secrets are wiped on release */
};

/* The pipeline components blobmill-fuse has (a bit each). */
enum {
	BF2_LIBFUSE = 1 << 0,
	BF2_FILE_CACHE = 1 << 1,
	BF2_BLOCK_CACHE = 1 << 2,
	BF2_ATTR_CACHE = 1 << 3,
	BF2_AZSTORAGE = 1 << 4,
};

struct bf2_config {
	char *origin;	 /* the file's name, for messages */
	bool path_given; /* a file was read (bf2_config_load_file) */
	/* top level */
	struct bf2_bool allow_other, allow_root, read_only, foreground;
	/* logging */
	struct bf2_str log_type, log_level;
	/* components */
	unsigned components; /* BF2_* bits */
	unsigned components_line;
	/* libfuse */
	struct bf2_num attr_expiration, entry_expiration, negative_expiration;
	struct bf2_num default_permission;
	/* file_cache */
	struct bf2_str fc_path;
	struct bf2_num fc_timeout, fc_max_size;
	/* block_cache */
	struct bf2_str bc_path;
	struct bf2_num bc_block_size, bc_mem_size, bc_prefetch, bc_parallelism;
	struct bf2_num bc_disk_size, bc_disk_timeout;
	/* attr_cache */
	struct bf2_num ac_timeout;
	/* azstorage */
	struct bf2_str type, account, account_key, sas, endpoint, container;
	struct bf2_str mode, appid, resid, objid, tenantid, clientid;
	struct bf2_str clientsecret, aadendpoint, oauth_token_path;
	struct bf2_bool use_http;
	struct bf2_num az_block_size, az_max_concurrency, az_max_retries;
	struct bf2_num az_max_retry_timeout;
};

void bf2_config_init(struct bf2_config *c);
void bf2_config_release(struct bf2_config *c);

/* Reads FILE (size limit and the group/other warning as for the v1 file).
 * 0, or -1 with err set ("FILE:LINE: ..."). */
int bf2_config_load_file(struct bf2_config *c, const char *path,
			 struct bm_error *err);

/* The same from a buffer; origin names it in messages. */
int bf2_config_parse_buffer(struct bf2_config *c, const char *buf, size_t len,
			    const char *origin, struct bm_error *err);

/* Whether a config file name looks like YAML (.yaml, .yml): how the
 * installer and `convert` tell the two formats apart. */
bool bf2_is_yaml_name(const char *path);

#endif
