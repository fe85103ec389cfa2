#!/usr/bin/env bash
# Pyxis's source release at its real URL (github.com/NVIDIA/pyxis/archive/refs/tags/v<V>.tar.gz,
# top directory pyxis-<V>/): a tiny SPANK plugin with Pyxis's name, Makefile targets (make with
# CPPFLAGS pointing at Slurm's headers -> spank_pyxis.so; make install prefix=...), plugstack
# arguments (runtime_path=..., key=value) and its main job options (--container-image,
# --container-mounts SRC[:DST[:FLAGS]],..., whose paths it checks as Pyxis does, --container-workdir,
# --container-name, --container-writable/-readonly, --[no-]container-mount-home). It compiles against
# the node's real Slurm headers and real slurmd and srun load it, so the role's build, its
# plugstack.conf.d wiring, the restart and the batch scripts' options are tested for real. It runs no
# container: the task runs on the node, and it logs what it would have started.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/testbed/standin-lib.sh
. "$here/standin-lib.sh"
version=0.24.0
out=$MIRROR_ROOT/github.com/NVIDIA/pyxis/archive/refs/tags
work=$(mktemp -d)
src=$work/pyxis-$version
mkdir -p "$src" "$out"
cat >"$src/pyxis.c" <<'C'
/* Test bed stand-in for NVIDIA's Pyxis SPANK plugin: loads, parses its plugstack arguments, offers
 * --container-image, and logs what it was given. */
#include <string.h>
#include <slurm/spank.h>

SPANK_PLUGIN(pyxis, 1)

static char runtime_path[1024] = "/run/pyxis";
static char image[1024] = "";
static char mounts[4096] = "";
static char workdir[1024] = "";
static char name[256] = "";

static int copy_arg(char *dest, size_t size, const char *optarg)
{
    if (optarg == NULL || strlen(optarg) >= size)
        return -1;
    strcpy(dest, optarg);
    return 0;
}

static int set_image(int val, const char *optarg, int remote)
{
    (void)val;
    (void)remote;
    return copy_arg(image, sizeof(image), optarg);
}

/* SRC[:DST[:FLAGS]], comma separated, as Pyxis takes them: both paths absolute */
static int set_mounts(int val, const char *optarg, int remote)
{
    char copy[4096], *entry, *save = NULL;
    (void)val;
    (void)remote;
    if (copy_arg(copy, sizeof(copy), optarg) != 0)
        return -1;
    for (entry = strtok_r(copy, ",", &save); entry != NULL; entry = strtok_r(NULL, ",", &save)) {
        char *dst = strchr(entry, ':');
        if (entry[0] != '/' || (dst != NULL && dst[1] != '/')) {
            slurm_error("pyxis: invalid mount: %s", entry);
            return -1;
        }
    }
    return copy_arg(mounts, sizeof(mounts), optarg);
}

static int set_workdir(int val, const char *optarg, int remote)
{
    (void)val;
    (void)remote;
    return copy_arg(workdir, sizeof(workdir), optarg);
}

static int set_name(int val, const char *optarg, int remote)
{
    (void)val;
    (void)remote;
    return copy_arg(name, sizeof(name), optarg);
}

static int set_flag(int val, const char *optarg, int remote)
{
    (void)val;
    (void)optarg;
    (void)remote;
    return 0;
}

struct spank_option spank_options[] = {
    {"container-image", "[USER@][REGISTRY#]IMAGE[:TAG]|PATH",
     "[pyxis] the image to use for the container filesystem", 1, 0, set_image},
    {"container-mounts", "SRC:DST[:FLAGS][,SRC:DST...]", "[pyxis] bind mount[s] inside the container", 1, 0,
     set_mounts},
    {"container-workdir", "PATH", "[pyxis] working directory inside the container", 1, 0, set_workdir},
    {"container-name", "NAME", "[pyxis] name to use for saving and loading the container", 1, 0, set_name},
    {"container-writable", NULL, "[pyxis] make the container filesystem writable", 0, 0, set_flag},
    {"container-readonly", NULL, "[pyxis] make the container filesystem read-only", 0, 0, set_flag},
    {"container-mount-home", NULL, "[pyxis] bind mount the user's home directory", 0, 0, set_flag},
    {"no-container-mount-home", NULL, "[pyxis] do not bind mount the user's home directory", 0, 0, set_flag},
    SPANK_OPTIONS_TABLE_END};

int slurm_spank_init(spank_t sp, int ac, char **av)
{
    (void)sp;
    for (int i = 0; i < ac; i++) {
        if (strncmp(av[i], "runtime_path=", 13) == 0) {
            if (strlen(av[i] + 13) >= sizeof(runtime_path))
                return -1;
            strcpy(runtime_path, av[i] + 13);
        } else if (strchr(av[i], '=') == NULL) {
            slurm_error("pyxis: unknown argument %s", av[i]);
            return -1;
        }
    }
    return 0;
}

int slurm_spank_user_init(spank_t sp, int ac, char **av)
{
    (void)sp;
    (void)ac;
    (void)av;
    if (image[0] != '\0')
        slurm_info("pyxis stand-in: would start %s (runtime_path=%s, mounts=%s, workdir=%s, name=%s)", image,
                   runtime_path, mounts, workdir, name);
    return 0;
}
C
cat >"$src/Makefile" <<'MAKE'
prefix ?= /usr/local
libdir ?= $(prefix)/lib
CFLAGS ?= -O2 -Wall -Werror
all: spank_pyxis.so
spank_pyxis.so: pyxis.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -std=gnu11 -fPIC -shared -o $@ $<
install: spank_pyxis.so
	install -d $(DESTDIR)$(libdir)/slurm $(DESTDIR)$(prefix)/share/pyxis
	install -m 0755 spank_pyxis.so $(DESTDIR)$(libdir)/slurm/
	echo "required $(libdir)/slurm/spank_pyxis.so" > $(DESTDIR)$(prefix)/share/pyxis/pyxis.conf
clean:
	rm -f spank_pyxis.so
.PHONY: all install clean
MAKE
echo "Pyxis $version (awsome test bed stand-in)" >"$src/README.md"
# Reproducible bytes: the same recipe gives the same sha256, which the version-set override pins.
tar -C "$work" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -c "pyxis-$version" \
  | gzip -n >"$out/v$version.tar.gz"
rm -rf "$work"
