/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * store_lmdb_dir.c - the directory of the "lmdb:/DIR" store: DIR and
 * every parent checked through descriptors, walking from "/" one
 * component at a time, DIR's files created and checked, and the path
 * under which LMDB opens them (see store_lmdb.c, "Files").
 */
#include "store_lmdb.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Why st (lstat of a directory or regular file) may not be trusted, or NULL. */
static const char *distrust(const struct stat *s, mode_t kind)
{
    const char *problem = NULL;

    if (S_ISLNK(s->st_mode))
        problem = "is a symbolic link";
    else if ((s->st_mode & S_IFMT) != kind)
        problem = kind == S_IFDIR ? "is not a directory" : "is not a regular file";
    else if (s->st_uid != geteuid())
        problem = "is owned by another user";
    else if ((s->st_mode & (S_IWGRP | S_IWOTH)) != 0)
        problem = "is writable by group or others";
    return problem;
}

/* DIR of "lmdb:/DIR" into dir (PATH_MAX bytes), without trailing slashes; 0 or -1 with err set. */
static int dir_of(const char *name, char *dir, char *err, size_t errlen)
{
    const char *path = name + strlen("lmdb:");
    size_t len = strlen(path);
    int rc = 0;

    while (len > 1 && path[len - 1] == '/')
        len--;
    if (path[0] != '/' || len < 2 || len >= PATH_MAX - 16) {
        snprintf(err, errlen, "%s: must be lmdb:/DIR", name);
        rc = -1;
    } else {
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    return rc;
}

/*
 * Why a parent directory s of the store may not be trusted, or NULL: it
 * must be owned by root or by us and writable by nobody else - except a
 * sticky directory owned by root (/tmp): there nobody else can rename or
 * remove what we own in it.
 */
static const char *distrust_parent(const struct stat *s)
{
    if (!S_ISDIR(s->st_mode))
        return "is not a directory";
    if (s->st_uid != 0 && s->st_uid != geteuid())
        return "is owned by another user";
    if ((s->st_mode & (S_IWGRP | S_IWOTH)) != 0 && !((s->st_mode & S_ISVTX) != 0 && s->st_uid == 0))
        return "is writable by group or others";
    return NULL;
}

/*
 * Open dir from "/" one component at a time with openat(O_NOFOLLOW |
 * O_DIRECTORY), each parent checked through its descriptor before the
 * next step (so no symbolic link is ever followed and nothing checked can
 * be swapped for something else); create the last component 0700 when
 * missing.  It must be a directory of ours that only we can write.  The
 * fd, or -1 with err set.
 */
static int open_dir(const char *name, const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX], shown[PATH_MAX];
    char *save = NULL, *part, *next;
    int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), created = 0;
    size_t shownlen = 0;
    struct stat s;
    const char *problem = fd < 0 ? strerror(errno) : NULL;

    snprintf(path, sizeof(path), "%s", dir);
    shown[0] = '\0';
    for (part = strtok_r(path, "/", &save); part != NULL && problem == NULL; part = next) {
        int child;

        next = strtok_r(NULL, "/", &save);
        if (fstat(fd, &s) != 0)
            problem = strerror(errno);
        else
            problem = distrust_parent(&s);
        if (problem != NULL) {
            snprintf(err, errlen, "%s: %s %s (every parent of the store must be owned by root or"
                     " by us and not writable by others)", name, shownlen == 0 ? "/" : shown, problem);
            break;
        }
        if (strcmp(part, ".") == 0 || strcmp(part, "..") == 0) {
            problem = "must not contain . or ..";
            snprintf(err, errlen, "%s: %s", name, problem);
            break;
        }
        shownlen += (size_t) snprintf(shown + shownlen, sizeof(shown) - shownlen, "/%s", part);
        if (shownlen >= sizeof(shown))
            shownlen = sizeof(shown) - 1;
        if (next == NULL)
            created = mkdirat(fd, part, 0700) == 0;
        child = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child < 0) {
            int open_errno = errno;

            problem = open_errno == ELOOP || (fstatat(fd, part, &s, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(s.st_mode))
                          ? "is a symbolic link"
                          : open_errno == ENOTDIR ? "is not a directory" : strerror(open_errno);
            if (next == NULL)
                snprintf(err, errlen, "%s: %s", name, problem);
            else
                snprintf(err, errlen, "%s: %s %s (name the real directory)", name, shown, problem);
        }
        close(fd);
        fd = child;
    }
    if (problem == NULL && fd >= 0) {
        if ((created && fchmod(fd, 0700) != 0) || fstat(fd, &s) != 0)
            problem = strerror(errno);
        else
            problem = distrust(&s, S_IFDIR);
        if (problem != NULL)
            snprintf(err, errlen, "%s: %s", name, problem);
    } else if (problem == NULL) {
        snprintf(err, errlen, "%s: /: %s", name, strerror(errno));
        problem = "open";
    }
    if (problem != NULL && fd >= 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/*
 * Create DIR/file 0600 when missing, then check it: a regular file of ours
 * that only we can write.  0 or -1 with err set.
 */
static int check_file(const char *name, int dirfd, const char *file, char *err, size_t errlen)
{
    int fd = openat(dirfd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = 0;
    struct stat s;
    const char *problem = NULL;

    if (fd >= 0 && fchmod(fd, 0600) != 0)
        rc = errno;
    else if (fd < 0 && errno != EEXIST)
        rc = errno;
    if (fd >= 0)
        close(fd);
    if (rc == 0 && fstatat(dirfd, file, &s, AT_SYMLINK_NOFOLLOW) != 0)
        rc = errno;
    if (rc == 0)
        problem = distrust(&s, S_IFREG);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s: %s", name, file, strerror(rc));
    else if (problem != NULL)
        snprintf(err, errlen, "%s: %s %s", name, file, problem);
    return rc != 0 || problem != NULL ? -1 : 0;
}

/* Check DIR and its files, and open write.lock into *lock_fd; DIR's descriptor, or -1 with err set. */
static int prepare_dir(const char *name, const char *dir, int *lock_fd, char *err, size_t errlen)
{
    static const char *const files[] = {"data.mdb", "lock.mdb", "write.lock"};
    int dirfd = open_dir(name, dir, err, errlen);
    int rc = dirfd < 0 ? -1 : 0;

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && rc == 0; i++)
        rc = check_file(name, dirfd, files[i], err, errlen);
    if (rc == 0 && (*lock_fd = openat(dirfd, "write.lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "%s: write.lock: %s", name, strerror(errno));
        rc = -1;
    }
    if (rc != 0 && dirfd >= 0) {
        close(dirfd);
        dirfd = -1;
    }
    return dirfd;
}

/*
 * The path LMDB opens its files under: /proc/self/fd/N, the directory
 * checked through dirfd itself (what was checked is what is opened,
 * whatever happens to the path meanwhile); without /proc (it must then
 * name that very directory), dir - whose every parent was checked, so
 * only root or we could swap it.
 */
static const char *env_path(int dirfd, const char *dir, char *buf, size_t buflen)
{
    struct stat a, b;

    snprintf(buf, buflen, "/proc/self/fd/%d", dirfd);
    if (fstat(dirfd, &a) == 0 && stat(buf, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return buf;
    return dir;
}

/* See store_lmdb.h. */
int hb_lmdb_prepare(const char *name, int *lock_fd, char *path, size_t pathlen, char *err, size_t errlen)
{
    char dir[PATH_MAX], proc[64];
    int dirfd = dir_of(name, dir, err, errlen) == 0 ? prepare_dir(name, dir, lock_fd, err, errlen) : -1;

    if (dirfd >= 0)
        snprintf(path, pathlen, "%s", env_path(dirfd, dir, proc, sizeof(proc)));
    return dirfd;
}
