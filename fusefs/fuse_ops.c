/*
 * fuse_ops: the thin adapter between libfuse's high-level API and bmfs.
 * It translates arguments (paths, struct fuse_file_info) and nothing
 * else: every decision, and every errno, is made in bmfs. libfuse itself
 * applies -o attr_timeout/entry_timeout/negative_timeout to the kernel's
 * caches (a lookup that fails with ENOENT becomes a negative entry).
 */
#define FUSE_USE_VERSION 31

#include <errno.h>
#include <fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bm_log.h"
#include "bmfs.h"
#include "fuse_ops.h"
#include "mount_readahead.h"

static struct bmfs *fs_of(void)
{
	return fuse_get_context()->private_data;
}

static struct bmfs_handle *handle_of(const struct fuse_file_info *fi)
{
	return fi ? (struct bmfs_handle *)(uintptr_t)fi->fh : NULL;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct bmfs *fs = fs_of();

	/* The kernel keeps the smaller of this and the readahead of the
	 * mount's device, which mount_run raised before this INIT (see
	 * mount_readahead.c): both must say the same. */
	if (fs->opt.readahead_blocks != 0)
		conn->max_readahead = MOUNT_READAHEAD_KB << 10;
	/* No hard_remove: libfuse keeps a file unlinked while open reachable
	 * by a hidden name, so fstat of it (which the kernel sends without
	 * the handle) still finds it. The hiding rename is no copy here: see
	 * op_rename. */
	cfg->hard_remove = 0;
	cfg->use_ino = 0;
	if (bmfs_start(fs) != 0)
		bm_err("cannot start worker threads: reads will not prefetch");
	return fs;
}

/* libfuse passes a NULL path, with the handle, for a file unlinked while
 * open (hard_remove): such an operation works from the handle alone.
 * Operations without a handle always get a path. */
static int op_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	if (!path)
		return fi ? bmfs_fgetattr(handle_of(fi), st) : -ESTALE;
	return bmfs_getattr(fs_of(), path, st);
}

static struct bmfs_dir *dir_of(const struct fuse_file_info *fi)
{
	return (struct bmfs_dir *)(uintptr_t)fi->fh;
}

static int op_opendir(const char *path, struct fuse_file_info *fi)
{
	struct bmfs_dir *d;
	int rc = bmfs_opendir(fs_of(), path, &d);

	if (rc == 0)
		fi->fh = (uint64_t)(uintptr_t)d;
	return rc;
}

static int op_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	bmfs_releasedir(dir_of(fi));
	return 0;
}

/* Offsets: 1 and 2 after "." and "..", then 2 + the next entry's index.
 * Nonzero offsets let libfuse send each entry's attributes under
 * READDIRPLUS (with offsets 0 it sends none and the kernel looks every
 * entry up again). */
#define DOTS 2

struct fill {
	void *buf;
	fuse_fill_dir_t filler;
	enum fuse_fill_dir_flags flags;
};

static int fill_one(void *ud, const char *name, const struct stat *st,
		    uint64_t next)
{
	struct fill *f = ud;

	return f->filler(f->buf, name, st, (off_t)(next + DOTS), f->flags);
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct fill f = {buf, filler,
			 flags & FUSE_READDIR_PLUS ? FUSE_FILL_DIR_PLUS : 0};
	static const char *const dots[DOTS] = {".", ".."};

	(void)path;
	for (; off < DOTS; off++)
		if (filler(buf, dots[off], NULL, off + 1, 0))
			return 0;
	return bmfs_readdir_at(dir_of(fi), (uint64_t)(off - DOTS), fill_one,
			       &f);
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct bmfs_handle *h;
	int rc = bmfs_open(fs_of(), path, fi->flags, &h);

	if (rc == 0) {
		fi->fh = (uintptr_t)h;
		fi->keep_cache = bmfs_keep_cache(h);
	}
	return rc;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct bmfs_handle *h;
	int rc;

	(void)mode;
	rc = bmfs_create(fs_of(), path, fi->flags, &h);
	if (rc == 0)
		fi->fh = (uintptr_t)h;
	return rc;
}

static int op_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)path;
	return bmfs_read(handle_of(fi), buf, size, (uint64_t)off);
}

static int op_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)path;
	return bmfs_write(handle_of(fi), buf, size, (uint64_t)off);
}

static int op_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	return bmfs_flush(handle_of(fi));
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	return bmfs_fsync(handle_of(fi));
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	return bmfs_release(handle_of(fi));
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	return bmfs_truncate(fs_of(), path, (uint64_t)size, handle_of(fi));
}

static int op_unlink(const char *path)
{
	return bmfs_unlink(fs_of(), path);
}

static int op_mkdir(const char *path, mode_t mode)
{
	(void)mode;
	return bmfs_mkdir(fs_of(), path);
}

static int op_rmdir(const char *path)
{
	return bmfs_rmdir(fs_of(), path);
}

/* Whether path's last component is a name libfuse's hide_node() makes
 * for a file unlinked (or renamed over) while open:
 * ".fuse_hidden%08x%08x". */
static bool libfuse_hidden(const char *path)
{
	static const char prefix[] = ".fuse_hidden";
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, prefix, sizeof(prefix) - 1) == 0 &&
	       strlen(base) == sizeof(prefix) - 1 + 16 &&
	       strspn(base + sizeof(prefix) - 1, "0123456789abcdef") == 16;
}

static int op_rename(const char *from, const char *to, unsigned int flags)
{
	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL; /* RENAME_EXCHANGE cannot be done safely */
	if (flags == 0 && libfuse_hidden(to))
		return bmfs_unlink_open(fs_of(), from, to);
	return bmfs_rename(fs_of(), from, to, (flags & RENAME_NOREPLACE) != 0);
}

static int op_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	return bmfs_statfs(fs_of(), st);
}

/* Blobs carry no owner or mode: accepted and ignored, like blobfuse. */
static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)path;
	(void)mode;
	(void)fi;
	return 0;
}

static int op_chown(const char *path, uid_t uid, gid_t gid,
		    struct fuse_file_info *fi)
{
	(void)path;
	(void)uid;
	(void)gid;
	(void)fi;
	return 0;
}

static int op_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	(void)path;
	(void)tv;
	(void)fi;
	return 0;
}

static int op_getxattr(const char *path, const char *name, char *value,
		       size_t size)
{
	return bmfs_getxattr(fs_of(), path, name, value, size);
}

static int op_listxattr(const char *path, char *list, size_t size)
{
	return bmfs_listxattr(fs_of(), path, list, size);
}

static int op_setxattr(const char *path, const char *name, const char *value,
		       size_t size, int flags)
{
	(void)path;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	return -ENOTSUP;
}

const struct fuse_operations bmfs_fuse_ops = {
    .init = op_init,
    .getattr = op_getattr,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .open = op_open,
    .create = op_create,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .fsync = op_fsync,
    .release = op_release,
    .truncate = op_truncate,
    .unlink = op_unlink,
    .mkdir = op_mkdir,
    .rmdir = op_rmdir,
    .rename = op_rename,
    .statfs = op_statfs,
    .chmod = op_chmod,
    .chown = op_chown,
    .utimens = op_utimens,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .setxattr = op_setxattr,
};
