/*
 * bm_config_impl: what the three parts of bm_config share; not for
 * callers (they include bm_config.h). bm_config.c reads the config file
 * and connection strings and owns the fields; bm_config_env.c fills them
 * from the environment; bm_config_check.c validates and completes them.
 */
#ifndef BM_CONFIG_IMPL_H
#define BM_CONFIG_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "bm_config.h"
#include "bm_error.h"

/* Replaces *field with a copy of the first n bytes of value; a secret is
 * registered for redaction and the old one wiped. */
int bm_config_set_field(char **field, const char *value, size_t n, bool secret,
			struct bm_error *err);

/* A SAS token is kept without its leading '?' (portal copies have it). */
int bm_config_set_sas(char **field, const char *value, size_t n,
		      struct bm_error *err);

/* authType by blobfuse v1's names (any case); `where` names the source
 * in the error. */
int bm_config_set_auth_type(struct bm_config *cfg, const char *value, size_t n,
			    const char *where, struct bm_error *err);

/* Whether any field of a managed identity / a service principal is set. */
bool bm_config_msi_given(const struct bm_entra *e);
bool bm_config_spn_given(const struct bm_entra *e);

/* Whether cfg already names a way to authenticate (the credential unit
 * that a later source may not add to). */
bool bm_config_has_credential(const struct bm_config *cfg);

/* The authType given, else the one the fields imply. */
enum bm_auth_type bm_config_implied_type(const struct bm_config *c);

#endif
