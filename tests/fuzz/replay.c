/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Replay a corpus through a harness without libFuzzer:
 *   replay FILE|DIR...
 * Each regular file, or each regular file in a directory (in name order), is
 * one input.  A failed check aborts; otherwise "replay: N inputs" and exit 0.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static void die(const char *what, const char *path)
{
	fprintf(stderr, "replay: %s: %s\n", path, what ? what : strerror(errno));
	exit(1);
}

/* Run one file; the buffer is exactly its size so the sanitizers see overreads. */
static void run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long size;

	if (!f)
		die(NULL, path);
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
		die(NULL, path);
	buf = malloc(size ? (size_t)size : 1);
	if (!buf)
		die(NULL, path);
	if (fread(buf, 1, (size_t)size, f) != (size_t)size)
		die("short read", path);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)size);
	free(buf);
}

static int is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static unsigned run_dir(const char *dir)
{
	struct dirent **ents;
	unsigned count = 0;
	int n = scandir(dir, &ents, NULL, alphasort);

	if (n < 0)
		die(NULL, dir);
	for (int i = 0; i < n; i++) {
		char path[4096];

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name) < sizeof(path) &&
		    is_regular(path)) {
			run_file(path);
			count++;
		}
		free(ents[i]);
	}
	free(ents);
	return count;
}

int main(int argc, char **argv)
{
	unsigned count = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0)
			die(NULL, argv[i]);
		if (S_ISDIR(st.st_mode)) {
			count += run_dir(argv[i]);
		} else {
			run_file(argv[i]);
			count++;
		}
	}
	printf("replay: %u inputs\n", count);
	return 0;
}
