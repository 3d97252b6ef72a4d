/*
 * bmfs_errno: the one place where a failure becomes an errno. The core
 * reports categories (bm_errc) and never picks an errno, because only the
 * filesystem knows which operation a request served: a 404 is ENOENT for a
 * lookup but ESTALE for a read of a file that was open (the blob went away
 * under the reader), and a 412 is ESTALE for a read.
 */
#include <errno.h>

#include "bm_log.h"
#include "bmfs.h"

static int default_errno(enum bm_errc code)
{
	switch (code) {
	case BM_OK:
		return 0;
	case BM_ERR_INVALID:
		return EINVAL;
	case BM_ERR_CONFIG:
		return EINVAL;
	case BM_ERR_AUTH:
		return EACCES;
	case BM_ERR_PERMISSION:
		return EACCES;
	case BM_ERR_NOT_FOUND:
		return ENOENT;
	case BM_ERR_EXISTS:
		return EEXIST;
	case BM_ERR_CONFLICT:
		return EBUSY;
	case BM_ERR_PRECONDITION:
		return ESTALE;
	case BM_ERR_RANGE:
		return EINVAL;
	case BM_ERR_TOO_LARGE:
		return EFBIG;
	case BM_ERR_NOSPACE:
		return ENOSPC;
	case BM_ERR_NOMEM:
		return ENOMEM;
	case BM_ERR_TIMEOUT:
		return ETIMEDOUT;
	/* The container went away under the mount, the service failed
	 * after retries, or the answer was malformed: an I/O error; the log
	 * line says which. */
	case BM_ERR_NO_CONTAINER:
	case BM_ERR_THROTTLED:
	case BM_ERR_SERVER:
	case BM_ERR_HTTP:
	case BM_ERR_NETWORK:
	case BM_ERR_PROTOCOL:
	case BM_ERR_IO:
	case BM_ERR_ABORTED:
		return EIO;
	}
	return EIO;
}

static const char *op_name(enum bmfs_op op)
{
	switch (op) {
	case BMFS_OP_LOOKUP:
		return "stat";
	case BMFS_OP_READDIR:
		return "list";
	case BMFS_OP_OPEN:
		return "open";
	case BMFS_OP_READ:
		return "read";
	case BMFS_OP_WRITE:
		return "write";
	case BMFS_OP_UPLOAD:
		return "upload";
	case BMFS_OP_TRUNCATE:
		return "truncate";
	case BMFS_OP_UNLINK:
		return "remove";
	case BMFS_OP_MKDIR:
		return "create directory";
	case BMFS_OP_RMDIR:
		return "remove directory";
	case BMFS_OP_RENAME:
		return "rename";
	}
	return "access";
}

int bmfs_errno(enum bmfs_op op, const char *path, const struct bm_error *err)
{
	int e = default_errno(err->code);

	switch (op) {
	case BMFS_OP_READ:
		/* The blob changed or vanished while open: never mix old and
		 * new bytes, say the handle is stale. */
		if (err->code == BM_ERR_NOT_FOUND ||
		    err->code == BM_ERR_PRECONDITION)
			e = ESTALE;
		break;
	case BMFS_OP_UPLOAD:
	case BMFS_OP_WRITE:
	case BMFS_OP_TRUNCATE:
		/* Local disk full is ENOSPC; anything the service refused
		 * keeps its mapping; a timeout on an upload is an EIO to
		 * the writer, whose data stays in --tmp-path. */
		if (err->code == BM_ERR_TIMEOUT)
			e = EIO;
		break;
	default:
		break;
	}
	if (e == ENOENT && (op == BMFS_OP_LOOKUP || op == BMFS_OP_UNLINK))
		bm_debug("%s '%s': %s", op_name(op), path, err->msg);
	else
		bm_err("cannot %s '%s': %s", op_name(op), path, err->msg);
	return e;
}
