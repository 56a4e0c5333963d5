/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * files.c - the one place that decides whether a file may be trusted.
 */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int hb_open_trusted(const char *path, mode_t forbidden, off_t max_size, char *why, size_t whylen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    const char *problem = NULL;

    if (fd < 0) {
        snprintf(why, whylen, "cannot open %s: %s", path,
                 errno == ELOOP ? "it is a symbolic link" : strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        problem = "is not a regular file";
    else if (st.st_uid != 0 && st.st_uid != geteuid())
        problem = "must be owned by root";
    else if ((st.st_mode & forbidden) != 0)
        problem = (forbidden & S_IROTH) != 0 ? "must not be readable or writable by group or others"
                                             : "must be writable only by its owner";
    if (problem == NULL && st.st_size > max_size)
        snprintf(why, whylen, "%s is larger than %lld bytes", path, (long long) max_size);
    else if (problem == NULL)
        return fd;
    else
        snprintf(why, whylen, "%s %s", path, problem);
    close(fd);
    return -1;
}

int hb_read_secret(const char *path, unsigned char *buf, size_t *len, char *why, size_t whylen)
{
    int fd = hb_open_trusted(path, S_IRWXG | S_IRWXO, HB_SECRET_MAX, why, whylen);
    ssize_t n;

    if (fd < 0)
        return -1;
    do
        n = read(fd, buf, HB_SECRET_MAX);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0) {
        snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    *len = (size_t) n;
    return 0;
}
