/*
 * fuse_ops: libfuse's operation table for bmfs. Include after defining
 * FUSE_USE_VERSION and including <fuse.h>.
 */
#ifndef BMFS_FUSE_OPS_H
#define BMFS_FUSE_OPS_H

extern const struct fuse_operations bmfs_fuse_ops;

#endif
