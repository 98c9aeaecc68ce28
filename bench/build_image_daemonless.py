"""Build the Dockerfile's image and run it, without a Docker daemon (buildah + podman, as root).

For a machine with no Docker engine and no container registry, but Debian's mirror and PyPI:

1. **base**: ``FROM python:3.11-slim-bookworm`` cannot be pulled, so a stand-in is made once and
   kept in the local store as ``localhost/python:3.11-slim-bookworm``: ``debootstrap --variant=minbase``
   of the release the tag names (bookworm, whose ``python3`` is 3.11) with ``python3-venv`` and
   ``ca-certificates``; a venv *at* ``/usr/local`` so that ``python``, ``python3`` and ``pip``
   resolve to ``/usr/local/bin`` and install into ``/usr/local/lib/python3.11/site-packages`` as in
   the official image (Debian's own ``pip`` refuses system installs); pip upgraded from PyPI;
   documentation and locales dropped and kept out (dpkg excludes) as in the slim image, apt set to
   delete its downloaded packages as in Docker's Debian images; ``PATH``, ``LANG=C.UTF-8`` and
   ``CMD ["python3"]`` set. ``--rebuild-base`` makes it again;
2. **build**: ``buildah build --format docker`` (the ``HEALTHCHECK`` only exists in Docker's image
   format) ``--from`` that base, ``--isolation chroot``, ``--storage-driver vfs`` (no overlay or
   user namespaces needed), without ``--layers`` (vfs would copy the 3 GB tree once per layer). When
   this machine trusts extra certificate authorities (a TLS-inspecting proxy), its CA bundle is
   bind-mounted into the build's ``RUN`` steps: nothing of it lands in the image;
3. **image**: the size of the image and of the base (uncompressed, as ``docker images`` shows);
   no test tool importable (pytest, playwright, oidc_provider_mock, flask); every installed
   distribution at the version ``constraints.txt`` pins; ``pip check``; the ``feedlens`` command;
4. **run**: ``podman run -d -p 127.0.0.1:<free port>:8501 -v <volume>:/data`` with the image's own
   ``CMD``; ``/_stcore/health`` answers; ``podman healthcheck run`` (the image's ``HEALTHCHECK``)
   passes; process 1 is ``streamlit`` running as ``feedlens`` (uid 10001); Chromium renders the
   Archive page (as in ``check_docker_recipe.py``); the cache is written on the volume, by that user.
   Where crun cannot start containers here (no ``CAP_SYS_RESOURCE`` to set rlimits, cgroup v1/v2
   hybrid), runc with this process's own limits is used instead.

``--compare REV`` also builds the Dockerfile of an older commit (``git archive``) the same way and
prints both sizes. Tools missing (buildah, podman, debootstrap, runc) are installed with apt-get.

Prints ``ok`` / ``FAIL`` per check and JSON lines ``{"name", "value", "unit"}``; exits 1 if a check
failed. Images stay in the local store (``podman --storage-driver vfs images``); the container and
its volume are removed.

Usage (as root)::

    .venv/bin/python bench/build_image_daemonless.py [--compare REV] [--rebuild-base] [--no-run]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_docker_recipe as recipe  # noqa: E402  (same folder: lint parsing, report, page check)

REPO = recipe.REPO
STORE = ["--storage-driver", "vfs"]
IMAGE = "localhost/feedlens:daemonless"
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
TOOLS = {"buildah": "buildah", "podman": "podman", "debootstrap": "debootstrap", "runc": "runc"}
TEST_TOOLS = ("pytest", "playwright", "oidc_provider_mock", "flask")
report = recipe.report


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 1), "unit": unit}), flush=True)


def sh(cmd: list[str], *, check: bool = True, capture: bool = True, **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=capture, text=True, **kw)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:6])} ... exited {res.returncode}:\n{(res.stderr or '')[-3000:]}")
    return res


def podman(*args: str, **kw) -> subprocess.CompletedProcess:
    res = sh(["podman", *STORE, *args], **kw)
    if res.stderr:  # without systemd podman cannot schedule the HEALTHCHECK timer; `healthcheck run` still works
        res.stderr = "\n".join(line for line in res.stderr.splitlines() if "systemd connection" not in line)
    return res


def ensure_tools() -> None:
    missing = [pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None]
    if missing:
        print(f"installing {', '.join(missing)} with apt-get", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        sh(["apt-get", "update", "-q"], env=env)
        sh(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing, "uidmap", "ca-certificates"], env=env)


def image_size(ref: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", ref).stdout.strip())


def image_id(ref: str) -> str:
    return podman("image", "inspect", "--format", "{{.Id}}", ref, check=False).stdout.strip()


def drop_replaced(ref: str, before: str) -> None:
    """Remove the image ``ref`` named before a rebuild, now untagged (vfs keeps a full copy of each)."""
    if before and before != image_id(ref):
        podman("rmi", before, check=False)


# -- 1. base ---------------------------------------------------------------------------------------


def host_ca_bundle() -> Path | None:
    """The host's CA bundle when it trusts more than Debian's authorities (e.g. a TLS-inspecting proxy)."""
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    local = [p for p in Path("/usr/local/share/ca-certificates").rglob("*.crt")] if bundle.exists() else []
    return bundle if local else None


def make_base(base: str, work: Path) -> None:
    suite = base.rsplit("-", 1)[-1]  # python:3.11-slim-bookworm -> bookworm
    rootfs = work / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    start = time.monotonic()
    sh(["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates", suite, str(rootfs), MIRROR])
    clean_env = ["/usr/bin/env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8"]

    def chroot(*cmd: str) -> None:
        sh(["chroot", str(rootfs), *clean_env, *cmd])

    # A venv at /usr/local: python, python3 and pip in /usr/local/bin, packages in /usr/local/lib (as upstream).
    chroot("/usr/bin/python3", "-m", "venv", "/usr/local")
    shutil.copy2("/etc/resolv.conf", rootfs / "etc/resolv.conf")
    ca = host_ca_bundle()
    cert = []
    if ca:
        shutil.copy2(ca, rootfs / "tmp/host-ca.crt")
        cert = ["PIP_CERT=/tmp/host-ca.crt"]
    chroot(*cert, "/usr/local/bin/pip", "install", "-q", "--no-cache-dir", "--upgrade", "pip")
    for leftover in ("tmp/host-ca.crt", "etc/resolv.conf", "etc/apt/sources.list"):
        (rootfs / leftover).unlink(missing_ok=True)
    (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(
        f"Types: deb\nURIs: {MIRROR}\nSuites: {suite} {suite}-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        f"Types: deb\nURIs: {MIRROR}-security\nSuites: {suite}-security\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
    # As Docker's Debian images: apt drops the .deb files after installing, no translations, and the
    # slim variant's dpkg excludes (no documentation, manual pages or locales).
    (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
        '/var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
        '/var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n')
    (rootfs / "etc/apt/apt.conf.d/docker-no-languages").write_text('Acquire::Languages "none";\n')
    (rootfs / "etc/dpkg/dpkg.cfg.d/docker-slim").write_text(
        "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\n"
        "path-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\npath-include /usr/share/locale/locale.alias\n")
    chroot("/usr/bin/apt-get", "clean")
    for folder in ("var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info", "root/.cache"):
        for child in (rootfs / folder).glob("*"):
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    for child in (rootfs / "usr/share/locale").glob("*"):
        if child.name != "locale.alias":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", "-", "."], stdout=subprocess.PIPE)
    podman("import", "--change", "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
           "--change", "ENV LANG=C.UTF-8", "--change", 'CMD ["python3"]', "-", base, stdin=tar.stdout)
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)
    print(f"base {base} made in {time.monotonic() - start:.0f} s", flush=True)


# -- 2. build --------------------------------------------------------------------------------------


def build(context: Path, base: str, tag: str, log: Path) -> bool:
    cmd = ["buildah", *STORE, "build", "--isolation", "chroot", "--format", "docker", "--pull=never",
           "--from", base, "-t", tag]
    ca = host_ca_bundle()
    if ca:  # build-time only: pip reaches PyPI through this machine's TLS proxy
        cmd += ["--volume", f"{ca}:/etc/ssl/certs/ca-certificates.crt:ro"]
    start, before = time.monotonic(), image_id(tag)
    with open(log, "w") as out:
        rc = subprocess.run([*cmd, str(context)], stdout=out, stderr=subprocess.STDOUT).returncode
    took = time.monotonic() - start
    drop_replaced(tag, before)
    detail = f"{took:.0f} s, log {log}" + ("" if rc == 0 else "\n" + log.read_text()[-3000:])
    return report(rc == 0, f"build: buildah build --format docker --from {base} -t {tag}", detail)


# -- 3. image contents -----------------------------------------------------------------------------


def check_image(tag: str, compat: list[str]) -> None:
    inspected = json.loads(podman("image", "inspect", tag).stdout)[0]
    config = inspected["Config"]
    hc = (inspected.get("Healthcheck") or config.get("Healthcheck") or {}).get("Test") or []
    report("/_stcore/health" in " ".join(hc), "image: the HEALTHCHECK is kept (Docker format)", str(hc)[:120])
    report(config.get("User") == "feedlens", "image: runs as user feedlens", str(config.get("User")))
    probe = ("import importlib.util as u, json, importlib.metadata as m; "
             f"print(json.dumps({{'test_tools': [t for t in {TEST_TOOLS!r} if u.find_spec(t)], "
             "'dists': {d.metadata['Name'].lower().replace('_', '-'): d.version for d in m.distributions()}}))")
    out = json.loads(podman("run", "--rm", *compat, tag, "python", "-c", probe).stdout)
    report(not out["test_tools"], "image: no test tools importable", ", ".join(TEST_TOOLS) + f": found {out['test_tools']}")
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    ignored = {"pip", "setuptools", "feedlens"}  # the installer's own tools, and the project
    unpinned = sorted(n for n in out["dists"] if n not in pins and n not in ignored)
    off = {n: (v, pins[n]) for n, v in out["dists"].items() if n in pins and v != pins[n]}
    report(not unpinned and not off, "image: every installed distribution at its constraints.txt version",
           f"{len(out['dists'])} installed" + (f"; not pinned {unpinned}" if unpinned else "")
           + (f"; other versions {off}" if off else ""))
    res = podman("run", "--rm", *compat, tag, "sh", "-c", "pip check && command -v feedlens", check=False)
    report(res.returncode == 0, "image: pip check is clean and the feedlens command is installed",
           (res.stdout + res.stderr).strip().replace("\n", " | "))


# -- 4. run ----------------------------------------------------------------------------------------

def run_options(image: str) -> list[str]:
    """Extra ``podman run`` options this machine needs (none where the default runtime works)."""
    res = podman("run", "--rm", image, "true", check=False)
    if res.returncode == 0:
        return []
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    # conmon starts the runtime with at most 32768 processes: ask for no more than that
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 32768)
    options = ["--runtime", "runc", "--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]
    last = (res.stderr.strip().splitlines() or ["?"])[-1]
    print(f"note: the default runtime cannot start a container here ({last[:160]}); using {' '.join(options)}",
          flush=True)
    return options


def run_image(tag: str, compat: list[str]) -> None:
    name, volume = "feedlens-daemonless-check", "feedlens-daemonless-data"
    podman("rm", "-f", name, check=False)
    podman("volume", "rm", "-f", volume, check=False)
    port = recipe.free_port()
    started = podman("run", "-d", "--name", name, *compat, "-p", f"127.0.0.1:{port}:8501",
                     "-v", f"{volume}:/data", tag, check=False)
    if not report(started.returncode == 0, "run: podman run -d -p 127.0.0.1:PORT:8501 -v VOLUME:/data", started.stderr[-1500:]):
        return
    try:
        url = f"http://127.0.0.1:{port}"
        deadline, healthy, t0 = time.monotonic() + 180, False, time.monotonic()
        while time.monotonic() < deadline and not healthy:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    healthy = resp.status == 200
            except OSError:
                time.sleep(0.5)
        logs = podman("logs", name, check=False)
        if not report(healthy, "run: /_stcore/health answers through the published port",
                      f"{time.monotonic() - t0:.0f} s" if healthy else (logs.stdout + logs.stderr)[-2000:]):
            return
        hc = podman("healthcheck", "run", name, check=False)
        report(hc.returncode == 0, "run: podman healthcheck run (the image's HEALTHCHECK) passes",
               (hc.stdout + hc.stderr).strip()[-300:])
        status = podman("exec", name, "sh", "-c", "grep -E '^(Uid|Gid):' /proc/1/status; tr '\\0' ' ' < /proc/1/cmdline",
                        check=False).stdout
        uid = re.search(r"Uid:\s+(\d+)", status)
        report(bool(uid) and uid.group(1) == "10001" and "streamlit run streamlit_app.py" in status,
               "run: process 1 is streamlit, as uid 10001 (feedlens), not root", " | ".join(status.split("\n")))
        try:
            recipe.check_first_page(url)
        except ImportError:
            print("note: no playwright in this interpreter: page check skipped (run with .venv/bin/python)")
        owners = podman("exec", name, "sh", "-c", "find /data/cache -type f | wc -l; find /data ! -user feedlens | wc -l",
                        check=False).stdout.split()
        report(len(owners) == 2 and int(owners[0]) > 0 and owners[1] == "0",
               "run: the cache is written on the /data volume, everything there owned by feedlens",
               f"{owners[0] if owners else '?'} cache files, {owners[1] if len(owners) > 1 else '?'} not feedlens'")
        logs = podman("logs", name, check=False)
        text = logs.stdout + logs.stderr
        report("Traceback" not in text, "run: no traceback in the container log", text[-1500:] if "Traceback" in text else "")
    finally:
        podman("rm", "-f", "-t", "10", name, check=False)
        podman("volume", "rm", "-f", volume, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", metavar="REV", help="also build the Dockerfile of this git revision; print both sizes")
    parser.add_argument("--rebuild-base", action="store_true", help="make the local base image again")
    parser.add_argument("--no-run", action="store_true", help="build and inspect only; do not start the image")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root: buildah/podman with vfs storage and chroot isolation need it")
        return 2
    ensure_tools()
    ins = recipe.instructions((REPO / "Dockerfile").read_text())
    upstream = next(a for i, a in ins if i == "FROM")
    base = f"localhost/{upstream}"
    work = Path(tempfile.mkdtemp(prefix="feedlens-image-"))
    os.chmod(work, 0o755)
    try:
        if args.rebuild_base or podman("image", "exists", base, check=False).returncode != 0:
            before = image_id(base)
            make_base(base, work)
            drop_replaced(base, before)
        report(podman("image", "exists", base, check=False).returncode == 0, f"base: {base} in the local store",
               "debootstrap of Debian's release, python3 + a venv at /usr/local")
        compat = run_options(base)
        context = work / "context"
        context.mkdir()
        recipe.stage_context(context)  # the files of this worktree that COPY takes, plus the Dockerfile
        shutil.copy2(REPO / "Dockerfile", context / "Dockerfile")
        shutil.copy2(REPO / ".dockerignore", context / ".dockerignore")
        if build(context, base, IMAGE, work / "build.log"):
            size, base_size = image_size(IMAGE), image_size(base)
            print(f"image {IMAGE}: {size / 1e6:.0f} MB (base {base_size / 1e6:.0f} MB, "
                  f"app layers {(size - base_size) / 1e6:.0f} MB)", flush=True)
            emit("image_size_mb", size / 1e6, "MB")
            emit("image_app_layers_mb", (size - base_size) / 1e6, "MB")
            check_image(IMAGE, compat)
            if not args.no_run:
                run_image(IMAGE, compat)
        if args.compare:
            old = work / "old"
            old.mkdir()
            archive = subprocess.Popen(["git", "-C", str(REPO), "archive", args.compare], stdout=subprocess.PIPE)
            sh(["tar", "-x", "-C", str(old)], stdin=archive.stdout)
            archive.wait()
            tag = f"localhost/feedlens:{args.compare[:12]}"
            if build(old, base, tag, work / "build-old.log"):
                old_size = image_size(tag)
                emit("image_size_mb_" + re.sub(r"\W", "_", args.compare[:12]), old_size / 1e6, "MB")
                if podman("image", "exists", IMAGE, check=False).returncode == 0:
                    emit("image_size_saved_mb", (old_size - image_size(IMAGE)) / 1e6, "MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"name": "image_failed_checks", "value": len(recipe.FAILED), "unit": "checks"}))
    return 1 if recipe.FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
