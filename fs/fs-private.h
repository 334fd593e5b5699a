/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fs/fs-private.h: what the files of fs/ share: the filesystem object and the union's view of a
 * node (resolving a name through upper/ and the index, a node's attributes, the merged directory).
 * No libfuse types here: fuse_lowlevel.h belongs to fs/ops.c alone.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs/fs.h"
#include "fs/inode.h"
#include "fs/lower.h"
#include "store/index.h"

/* Upper-dir xattrs (fs/fs.h): the kernel overlayfs format plus berth's inode number. */
#define FS_XATTR_OPAQUE		 "trusted.overlay.opaque"
#define FS_XATTR_REDIRECT	 "trusted.overlay.redirect"
#define FS_XATTR_METACOPY	 "trusted.overlay.metacopy"
#define FS_XATTR_INO		 "trusted.berth.ino"
/* Names under these prefixes are the union's own and never shown to or set by users. */
#define FS_XATTR_PRIVATE_OVERLAY "trusted.overlay."
#define FS_XATTR_PRIVATE_BERTH	 "trusted.berth."

struct fs {
	store *store;
	store_index *idx;
	fs_lower_cache *cache;
	fs_table *table;
	int upper_fd;		    /* O_DIRECTORY */
	int work_fd;		    /* O_DIRECTORY, same file system as upper_fd */
	pthread_mutex_t write_lock; /* serializes copy-ups and changes to upper/ */
	atomic_uint_fast64_t tmp_seq;
	unsigned threads;
	bool debug;
	/* fs/ops.c: the session while serving (struct fuse_session *) and the mount point. */
	void *session;
	char *mountpoint;
	volatile int stop_requested;
};

/* One name in a directory of the union, resolved. */
typedef struct fs_child {
	uint64_t ino;	 /* st_ino */
	uint32_t type;	 /* S_IFMT */
	store_ino lower; /* index inode showing through (directory entries, metacopy data), 0: none */
	int upper;	 /* O_PATH fd of the upper entry (owned), -EBADF: lower only */
	bool opaque;
	bool metacopy;
} fs_child;

/* Resolves name in parent: -ENOENT (also for whiteouts). ret->upper is opened if want_fd. */
int fs_resolve(fs *f, fs_node *parent, const char *name, bool want_fd, fs_child *ret);
/* An owned O_PATH fd of the node's upper entry (-ENOENT: none; -ESTALE: deleted). */
int fs_node_upper_fd(fs *f, const fs_node_state *s, int *ret);
/* stat of a node as the union shows it. */
int fs_node_stat(fs *f, fs_node *n, struct stat *ret);
int fs_child_stat(fs *f, const fs_child *c, struct stat *ret);
/* Whether the lower layer shows `name` in parent (parent has a lower dir and is not opaque). */
bool fs_lower_has(fs *f, fs_node *parent, const char *name);

/* /proc/self/fd/<fd>[/name] for the *xattr calls that have no fd form for O_PATH fds. */
#define FS_PROC_PATH_MAX 300
void fs_proc_path(char *out, int fd, const char *name);
/* getxattr through the proc path; -ENODATA when absent. Returns the size. */
ssize_t fs_upper_getxattr(int fd, const char *name, const char *xname, void *value, size_t size);

/* The merged directory (fs/readdir.c). */
typedef struct fs_dirent {
	char *name;
	uint64_t ino;
	uint32_t type; /* S_IFMT */
} fs_dirent;

typedef struct fs_dir {
	fs_dirent *entries; /* ".", "..", then upper entries, then lower ones not hidden */
	size_t n;
} fs_dir;

int fs_dir_read(fs *f, fs_node *dir, fs_dir *ret);
void fs_dir_done(fs_dir *d);
/* 1 if the merged directory has no entries besides . and .., 0 if it has, < 0 on error. */
int fs_dir_is_empty(fs *f, fs_node *dir);

/* ---- copy-up (fs/copyup.c) ---- */

typedef enum fs_copy_up_mode {
	FS_COPY_UP_META,  /* metadata only: a regular file's data stays lower (metacopy) */
	FS_COPY_UP_DATA,  /* metadata and data (completes a metacopy file) */
	FS_COPY_UP_EMPTY, /* metadata, and an empty regular file (O_TRUNC, truncate to 0) */
} fs_copy_up_mode;

/*
 * Gives n an upper entry, copying up its ancestors first. Atomic: assembled in work/, renamed
 * into place. A no-op if n has one already (except DATA on a metacopy file, and EMPTY). Takes
 * f->write_lock; fs_copy_up_locked() is for callers that hold it.
 */
int fs_copy_up(fs *f, fs_node *n, fs_copy_up_mode mode);
int fs_copy_up_locked(fs *f, fs_node *n, fs_copy_up_mode mode);
/* A fresh name for a temp entry in work/. out: 32 bytes. */
void fs_work_name(fs *f, char *out);
/* lsetxattr on (dirfd, name) through the proc path. */
int fs_upper_setxattr_at(int dirfd, const char *name, const char *xname, const void *v, size_t len);
/* Sets trusted.berth.ino on (dirfd, name). */
int fs_set_ino_xattr(int dirfd, const char *name, uint64_t ino);

/* ---- hard links of the image (fs/hardlink.c) ---- */

/* The absolute path ("/a/b") of a lower directory. */
int fs_lower_dir_path(fs *f, store_ino ino, char *out, size_t size);
/*
 * After the copy-up of a lower file with several names (upper fd `upper`), links every other
 * name of it that the union still shows as that lower file to the upper file, so the names stay
 * one inode (overlayfs without index=on breaks them apart). Under f->write_lock.
 */
int fs_copy_up_hardlinks(fs *f, fs_node *n, store_ino ino, int upper);

/* ---- operations on one node (fs/node.c) ---- */

/* Reopens an O_PATH upper fd with real open flags (through /proc/self/fd). */
int fs_upper_reopen(int opath_fd, int flags);
/* readlink into buf (NUL-terminated); -ENAMETOOLONG if it does not fit. */
int fs_node_readlink(fs *f, fs_node *n, char *out, size_t size);
/*
 * Opens a node for I/O with the caller's open flags: lower data (the content cache) for reading,
 * the upper file otherwise (copying up first when the flags write). *ret_lower tells which.
 */
int fs_node_open(fs *f, fs_node *n, int flags, bool *ret_lower);
/* xattrs as users see them: the union's own trusted.overlay.* and trusted.berth.* are hidden. */
bool fs_xattr_private(const char *name);
ssize_t fs_node_getxattr(fs *f, fs_node *n, const char *name, void *value, size_t size);
ssize_t fs_node_listxattr(fs *f, fs_node *n, char *list, size_t size);

/* ---- changes to the name space and metadata (fs/write.c); all take f->write_lock ---- */

typedef struct fs_creds {
	uid_t uid;
	gid_t gid;
} fs_creds;

/*
 * Creates name in parent: a directory, device, FIFO, socket (mode's S_IFMT, rdev), a symlink
 * (link != NULL), or a regular file opened with `flags` (ret_fd != NULL gets the fd). On a
 * whiteout the entry is assembled in work/ and renamed over it; a directory made there is
 * opaque. ret is the new entry, as fs_resolve() gives it (with its O_PATH fd).
 */
int fs_create(fs *f, fs_node *parent, const char *name, mode_t mode, dev_t rdev, const char *link,
	      int flags, const fs_creds *cr, fs_child *ret, int *ret_fd);
/* Hard link: n is copied up, then linked in upper. ret: the entry (n's number). */
int fs_link(fs *f, fs_node *n, fs_node *newparent, const char *newname, fs_child *ret);
/* unlink/rmdir: leaves a whiteout where the lower layer has the name. */
int fs_remove(fs *f, fs_node *parent, const char *name, bool dir);
/* rename(2) with 0, RENAME_NOREPLACE or RENAME_EXCHANGE. */
int fs_rename(fs *f, fs_node *p, const char *name, fs_node *np, const char *newname,
	      unsigned flags);

#define FS_SET_MODE	 (1u << 0)
#define FS_SET_UID	 (1u << 1)
#define FS_SET_GID	 (1u << 2)
#define FS_SET_SIZE	 (1u << 3)
#define FS_SET_ATIME	 (1u << 4)
#define FS_SET_MTIME	 (1u << 5)
#define FS_SET_ATIME_NOW (1u << 6)
#define FS_SET_MTIME_NOW (1u << 7)
/* chmod/chown/truncate/utimens; copies up (metadata only unless the size changes). fd: an open
 * writable fd of the file for truncate, or -EBADF. */
int fs_setattr(fs *f, fs_node *n, const struct stat *attr, unsigned valid, int fd);
int fs_setxattr(fs *f, fs_node *n, const char *name, const void *value, size_t size, int flags);
int fs_removexattr(fs *f, fs_node *n, const char *name);
