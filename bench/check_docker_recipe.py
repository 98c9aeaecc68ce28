"""Check the Dockerfile as far as a machine without a Docker engine allows.

This machine has the ``docker`` client but no engine (``docker info`` cannot
reach a daemon), so the image cannot be built here. What is checked instead:

1. **lint**: a few hadolint-style rules, read from the Dockerfile itself (a
   tagged base image, ``apt-get update`` / ``--no-install-recommends`` / lists
   removed in one ``RUN``, pip without a cache, JSON-form ``CMD`` and
   ``HEALTHCHECK``, a non-root ``USER`` created in the image, ``EXPOSE`` equal
   to the port in ``CMD``, ``FEEDLENS_ALLOW_LOCAL_PATHS=0``, the cache on a
   ``VOLUME`` owned by that user; every ``pip install`` pinned by
   ``constraints.txt``, copied in before it, and no extras but the
   ``EXTRAS`` build arg, empty by default: no test tools);
2. **apt packages**: each one exists for the base image's Debian release (the
   release of this machine must match), and every shared library that the
   installed wheels (the running venv, normally ``.venv``) load from the system is provided by those
   packages, their dependencies, or Debian's required base packages (``ldd`` +
   ``dpkg -S`` + ``apt-cache depends``). OpenCV's Qt window plugins are left
   out: a server never opens a window;
3. **the build context and start**: the files ``COPY`` takes (``.dockerignore``
   applied) are staged in a temporary ``/app``; ``CMD`` is run from there with
   the Dockerfile's ``ENV`` (paths under the volume moved to a temporary folder),
   as an unprivileged user (uid 65534) when run as root, on a free localhost
   port instead of 0.0.0.0:8501; the ``HEALTHCHECK`` command must succeed, and
   Chromium must render the Archive page with no exception, without the
   "Open a folder" choice (local paths are off), and the cache must be written;
4. with ``--full`` only: the Dockerfile's ``COPY`` and ``RUN pip install``
   steps (``pip install -c constraints.txt .`` on ``pyproject.toml`` alone,
   then the code with ``--no-deps`` and ``pip check``) are replayed in order in
   a fresh venv under /tmp (about 3 GB, several minutes); no test tool may end
   up in it; step 3 uses it instead of the running venv.

Building the image itself without a Docker daemon (buildah, podman): see
``bench/build_image_daemonless.py``.

Prints ``ok`` / ``FAIL`` per check and a last JSON line
``{"name": "docker_recipe_failed_checks", ...}``; exits 1 if any check failed.

Usage::

    .venv/bin/python bench/check_docker_recipe.py [--full] [--keep] [--no-start]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAILED: list[str] = []


def report(ok: bool, check: str, detail: str = "") -> bool:
    print(f"{'ok  ' if ok else 'FAIL'} {check}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        FAILED.append(check)
    return ok


# -- parsing ------------------------------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, with line continuations joined and comments dropped."""
    out, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        word, _, rest = current.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    return out


def env_pairs(args: str) -> dict[str, str]:
    parts = shlex.split(args)
    if len(parts) == 2 and "=" not in parts[0]:  # legacy "ENV KEY value"
        return {parts[0]: parts[1]}
    return dict(p.split("=", 1) for p in parts)


def exec_form(args: str) -> list[str] | None:
    try:
        value = json.loads(args)
    except ValueError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def healthcheck_cmd(args: str) -> list[str] | None:
    m = re.search(r"\bCMD\s+(\[.*\])\s*$", args)
    return exec_form(m.group(1)) if m else None


# -- 1. lint ---------------------------------------------------------------------------------------


def lint(ins: list[tuple[str, str]]) -> dict:
    names = [i for i, _ in ins]
    known = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
             "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
    report(set(names) <= known, "lint: only known instructions", ", ".join(sorted(set(names) - known)))
    base = [a for i, a in ins if i == "FROM"]
    report(len(base) == 1 and ":" in base[0] and not base[0].endswith(":latest"),
           "lint: one FROM with an explicit tag", str(base))
    report("ADD" not in names, "lint: COPY rather than ADD")
    env: dict[str, str] = {}
    for i, a in ins:
        if i == "ENV":
            env.update(env_pairs(a))
    for i, a in ins:
        if i == "RUN" and "apt-get install" in a:
            report("apt-get update" in a, "lint: apt-get update in the same RUN as install")
            report("--no-install-recommends" in a, "lint: apt-get install --no-install-recommends")
            report(re.search(r"apt-get install[^&;]*\s-y\b", a) is not None, "lint: apt-get install -y")
            report("rm -rf /var/lib/apt/lists" in a, "lint: apt lists removed in the same RUN")
        if i == "RUN" and "pip install" in a:
            report("--no-cache-dir" in a or env.get("PIP_NO_CACHE_DIR") in ("1", "true", "on"),
                   "lint: pip install without a cache")
    pips = [n for n, (i, a) in enumerate(ins) if i == "RUN" and "pip install" in a]
    copied = [n for n, (i, a) in enumerate(ins) if i == "COPY" and "constraints.txt" in a.split()[:-1]]
    report(bool(pips) and all(re.search(r"\s-c\s+constraints\.txt\b", ins[n][1]) for n in pips),
           "lint: every pip install is pinned by -c constraints.txt")
    report(bool(copied) and bool(pips) and copied[0] < pips[0], "lint: constraints.txt is copied in before the first pip install")
    build_args = {a.split("=", 1)[0].strip(): a.split("=", 1)[1].strip().strip("'\"") if "=" in a else ""
                  for i, a in ins if i == "ARG"}
    report(not any(re.search(r"\.\[|\s-r\s|pytest|playwright", ins[n][1]) for n in pips)
           and build_args.get("EXTRAS", "") == "",
           "lint: pip installs the project alone (no extras but the EXTRAS build arg, empty by default; "
           "no requirements file: no test tools)")
    workdirs = [a for i, a in ins if i == "WORKDIR"]
    report(bool(workdirs) and all(w.startswith("/") for w in workdirs), "lint: absolute WORKDIR", str(workdirs))
    cmds = [a for i, a in ins if i == "CMD"]
    cmd = exec_form(cmds[-1]) if cmds else None
    report(len(cmds) == 1 and cmd is not None, "lint: one CMD, in JSON (exec) form")
    report("ENTRYPOINT" not in names, "lint: no ENTRYPOINT (CMD says it all)")
    checks = [a for i, a in ins if i == "HEALTHCHECK"]
    hc = healthcheck_cmd(checks[0]) if len(checks) == 1 else None
    report(hc is not None and "/_stcore/health" in " ".join(hc), "lint: one HEALTHCHECK on /_stcore/health, exec form")
    users = [a for i, a in ins if i == "USER"]
    user = users[-1] if users else "root"
    report(user not in ("root", "0", "0:0"), "lint: the last USER is not root", user)
    created = any(i == "RUN" and re.search(rf"\buseradd\b.*\b{re.escape(user)}\b", a) for i, a in ins)
    report(created, f"lint: user {user!r} is created in the image")
    cmd = cmd or []
    report(cmd[:3] == ["streamlit", "run", "streamlit_app.py"], "lint: CMD is streamlit run streamlit_app.py", str(cmd))
    opts = dict(o[2:].split("=", 1) for o in cmd if o.startswith("--") and "=" in o)
    exposed = [a for i, a in ins if i == "EXPOSE"]
    report(opts.get("server.address") == "0.0.0.0", "lint: CMD listens on 0.0.0.0")
    report(exposed == [opts.get("server.port", "8501")] == ["8501"], "lint: EXPOSE 8501 = --server.port", str(exposed))
    report(env.get("FEEDLENS_ALLOW_LOCAL_PATHS") == "0", "lint: ENV FEEDLENS_ALLOW_LOCAL_PATHS=0")
    volumes = [v for i, a in ins if i == "VOLUME" for v in (exec_form(a) or a.split())]
    cache = env.get("FEEDLENS_CACHE_DIR", "")
    under = [v for v in volumes if cache == v or cache.startswith(v.rstrip("/") + "/")]
    report(bool(under), "lint: FEEDLENS_CACHE_DIR is on a VOLUME", f"{cache} vs {volumes}")
    owned = under and any(i == "RUN" and re.search(rf"chown\b.*\b{re.escape(user)}\b.*\s{re.escape(under[0])}\b", a)
                          for i, a in ins)
    report(bool(owned), f"lint: the volume is owned by {user!r} (a fresh named volume copies that)")
    report(ins.index(next(x for x in ins if x[0] == "USER")) < ins.index(next(x for x in ins if x[0] == "CMD")),
           "lint: USER comes before CMD")
    return {"base": base[0] if base else "", "env": env, "cmd": cmd, "healthcheck": hc or [],
            "workdir": workdirs[-1] if workdirs else "/", "volumes": volumes}


# -- 2. apt packages and shared libraries ----------------------------------------------------------


def apt_packages(ins: list[tuple[str, str]]) -> list[str]:
    pkgs = []
    for i, a in ins:
        if i == "RUN":
            for m in re.finditer(r"apt-get install ([^&;|]+)", a):
                pkgs += [w for w in m.group(1).split() if not w.startswith("-")]
    return pkgs


def closure(packages: list[str]) -> set[str]:
    out = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
         "--no-replaces", "--no-enhances", "--no-pre-depends", *packages],
        capture_output=True, text=True, check=False).stdout
    names = {line.strip().split(":")[0] for line in out.splitlines() if line and not line.startswith(" ")}
    deps = {line.split(":", 1)[1].strip().strip("<>").split(":")[0]
            for line in out.splitlines() if line.strip().startswith(("Depends:", "PreDepends:"))}
    return names | deps | set(packages)


def check_libraries(pkgs: list[str], base: str) -> None:
    release = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        release[key] = value.strip('"')
    codename = release.get("VERSION_CODENAME", "")
    if not report(codename and base.endswith(f"-{codename}"), "apt: this machine runs the base image's Debian release",
                  f"{base} vs {codename}"):
        return
    missing = [p for p in pkgs if subprocess.run(["apt-cache", "show", p], capture_output=True).returncode != 0]
    report(not missing, f"apt: the packages exist in Debian {codename}", ", ".join(pkgs) + (f"; missing {missing}" if missing else ""))
    site = Path(sysconfig.get_paths()["purelib"])  # the venv running this script
    system_libs: dict[str, set[str]] = {}
    for so in site.rglob("*.so*"):
        rel = so.relative_to(site).as_posix()
        # Bundled libraries (*.libs/) are loaded through a module, whose ldd already lists what they need;
        # OpenCV's Qt platform plugins load only to open a window.
        if not so.is_file() or ".libs/" in rel or rel.startswith("cv2/qt/"):
            continue
        out = subprocess.run(["ldd", str(so)], capture_output=True, text=True, check=False).stdout
        for m in re.finditer(r"=>\s+(/\S+)", out):
            lib = m.group(1)
            if not lib.startswith(str(site)) and not lib.startswith(str(REPO)):
                system_libs.setdefault(lib, set()).add(rel.split("/")[0])
    owners: dict[str, str] = {}
    for lib in system_libs:
        for candidate in (lib, lib.replace("/lib/", "/usr/lib/", 1)):
            out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True).stdout
            if out:
                owners[lib] = out.split(":")[0]
                break
        else:
            owners[lib] = "?"
    required = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Priority} ${Essential}\n"],
                              capture_output=True, text=True).stdout
    minbase = [line.split()[0] for line in required.splitlines()
               if line.split()[1:2] == ["required"] or line.endswith(" yes")]
    available = closure(pkgs) | closure(minbase)
    uncovered = {lib: (owners[lib], sorted(users)) for lib, users in system_libs.items() if owners[lib] not in available}
    needed = sorted({owners[lib] for lib in system_libs} - closure(minbase))
    report(not uncovered, "apt: every system library the wheels load comes from those packages or the base",
           f"beyond the base: {', '.join(needed)}" + (f"; NOT covered: {uncovered}" if uncovered else ""))


# -- 3. build context, start, health, first page -----------------------------------------------------


def ignored(rel: str, patterns: list[tuple[bool, str]]) -> bool:
    """Whether ``.dockerignore`` leaves ``rel`` out (a pattern matches it or a folder above it; ``!`` re-includes)."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for negate, pattern in patterns:
        pattern = pattern.strip("/")
        if pattern.startswith("**/"):  # at any depth
            hit = any(fnmatch.fnmatchcase(p.rsplit("/", 1)[-1], pattern[3:]) for p in prefixes)
        else:
            hit = any(fnmatch.fnmatchcase(p, pattern) for p in prefixes)
        if hit:
            result = not negate
    return result


def stage_context(target: Path) -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [(l.startswith("!"), l.lstrip("!").strip()) for l in lines if l.strip() and not l.startswith("#")]
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    taken = []
    for rel in files:
        src = REPO / rel
        if not src.is_file() or ignored(rel, patterns):
            continue
        dst = target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        taken.append(rel)
    return taken


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_app(spec: dict, python: Path, work: Path) -> None:
    app = work / "app"
    app.mkdir(parents=True)
    taken = stage_context(app)
    needed = ["streamlit_app.py", "pyproject.toml", "constraints.txt", ".streamlit/config.toml",
              "core/explore/data/imagenet_groups.json"]
    report(all(n in taken for n in needed) and any(t.startswith("app_pages/") for t in taken),
           "context: COPY takes the app, its pages, data and config", f"{len(taken)} files")
    leaked = [t for t in taken if t.startswith(("tests/", "bench/", ".venv/", ".git/")) or t.endswith("secrets.toml")]
    report(not leaked, "context: no tests, benches, venv, git or secrets in the image", str(leaked[:5]))

    volume = work / "data"
    env = {"PATH": f"{python.parent}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for key, value in spec["env"].items():
        for v in spec["volumes"]:
            if value == v or value.startswith(v.rstrip("/") + "/"):
                value = str(volume) + value[len(v.rstrip("/")):]
        env[key] = value
    for key in ("FEEDLENS_CACHE_DIR", "KERAS_HOME"):
        if key in env:
            Path(env[key]).mkdir(parents=True, exist_ok=True)
    home = work / "home"
    home.mkdir()
    env["HOME"] = str(home)
    env["FEEDLENS_MODEL_DIR"] = os.environ.get("FEEDLENS_MODEL_DIR", str(REPO.parent / "shared" / "models"))
    port = free_port()
    cmd = [python.parent / c if i == 0 else c for i, c in enumerate(spec["cmd"])]
    cmd = [str(c).replace("--server.port=8501", f"--server.port={port}").replace(
        "--server.address=0.0.0.0", "--server.address=127.0.0.1") for c in cmd]
    as_user = os.geteuid() == 0 and runs_as_nobody(python)
    if os.geteuid() == 0 and not as_user:
        print(f"note: {python} cannot run as uid 65534 (its interpreter lives in a private folder): "
              "starting as root; --full builds a venv any user can run")
    if as_user:  # the image runs as a non-root user: so does this replay
        for path in [work, *work.rglob("*")]:
            os.chown(path, 65534, 65534)

    def drop() -> None:
        os.setsid()
        if as_user:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)

    log = open(work / "streamlit.log", "w+")  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=app, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=drop)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline, healthy = time.monotonic() + 120, False
        while time.monotonic() < deadline and proc.poll() is None and not healthy:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    healthy = resp.status == 200
            except OSError:
                time.sleep(0.5)
        log.seek(0)
        report(healthy, "start: CMD serves /_stcore/health" + (" as uid 65534" if as_user else ""),
               "" if healthy else log.read()[-2000:])
        if not healthy:
            return
        hc = [str(python.parent / c) if i == 0 else c.replace(":8501/", f":{port}/") for i, c in enumerate(spec["healthcheck"])]
        rc = subprocess.run(hc, env=env, timeout=30).returncode
        report(rc == 0, "start: the HEALTHCHECK command exits 0", f"exit {rc}")
        check_first_page(url)
        cache = Path(env["FEEDLENS_CACHE_DIR"])
        written = [p for p in cache.rglob("*") if p.is_file()]
        report(bool(written) and all(p.stat().st_uid == (65534 if as_user else os.geteuid()) for p in written),
               "start: the app writes its cache on the volume, as the app user", f"{len(written)} files in {cache}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.seek(0)
        text = log.read()
        log.close()
        report("Traceback" not in text, "start: no traceback in the server log", text[-1500:] if "Traceback" in text else "")


def runs_as_nobody(python: Path) -> bool:
    def drop() -> None:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    try:
        return subprocess.run([str(python), "-c", "import streamlit"], preexec_fn=drop, capture_output=True,
                              timeout=120).returncode == 0
    except OSError:
        return False


def check_first_page(url: str) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            page.get_by_text("Demo archive: the photos are real sample images").wait_for(timeout=120_000)
            page.wait_for_function("() => document.querySelector(\"[data-testid='stApp']\")"
                                   ".dataset.testScriptState === 'notRunning'", timeout=120_000)
            sidebar = page.locator("[data-testid='stSidebar']")
            shown = page.locator("[data-testid='stException']").count()
            report(shown == 0 and not errors, "page: the Archive page renders the demo with no exception",
                   f"{shown} exception(s), {errors[:3]}")
            sidebar.get_by_text("Upload a ZIP").first.wait_for(timeout=60_000)
            text = sidebar.inner_text()
            report("Upload a ZIP" in text and "Open a folder" not in text,
                   "page: uploads offered, server folders not (FEEDLENS_ALLOW_LOCAL_PATHS=0)",
                   " | ".join(text.split("\n")[-12:]))
        finally:
            browser.close()


TEST_TOOLS = ("pytest", "playwright", "oidc_provider_mock", "flask")


def fresh_venv(work: Path, ins: list[tuple[str, str]], spec: dict) -> Path:
    """Replay the Dockerfile's ``COPY`` and ``RUN pip ...`` steps, in order, in a fresh venv.

    ``WORKDIR`` is a temporary folder; ``pip`` and ``python`` are the venv's; the Dockerfile's ``ENV``
    is set. The other ``RUN`` steps (apt-get, useradd) are the base system's business.
    """
    venv = work / "venv"
    # Debian's own Python 3.11 (like the image's, a system interpreter any user can run).
    base = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else "python3"
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--upgrade", "pip"], capture_output=True)
    workdir = work / "workdir"
    workdir.mkdir()
    env = {**os.environ, **spec["env"], "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    env.pop("PYTHONPATH", None)
    for word, args in ins:
        if word == "COPY":
            *sources, _ = shlex.split(args)
            if sources == ["."]:
                stage_context(workdir)
            for source in (s for s in sources if s != "."):
                shutil.copy2(REPO / source, workdir / source)
        elif word == "RUN" and re.search(r"\bpip install\b", args):
            start = time.monotonic()
            res = subprocess.run(["bash", "-c", args], cwd=workdir, env=env, capture_output=True, text=True)
            report(res.returncode == 0, f"pip: RUN {args[:90]}{'...' if len(args) > 90 else ''} (fresh venv)",
                   f"{time.monotonic() - start:.0f} s" + ("" if res.returncode == 0 else "\n" + res.stderr[-2000:]))
    probe = f"import importlib.util as u; print(' '.join(t for t in {TEST_TOOLS!r} if u.find_spec(t)))"
    found = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True).stdout.split()
    report(not found, "pip: the image's environment has no test tools", f"found {found}" if found else ", ".join(TEST_TOOLS))
    return venv / "bin" / "python"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="replay pip install in a fresh venv (slow)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--no-start", action="store_true", help="only lint and check packages (no server, no browser)")
    args = parser.parse_args()

    engine = subprocess.run(["docker", "info"], capture_output=True, text=True) if shutil.which("docker") else None
    if engine is not None and engine.returncode == 0:
        print("note: a Docker engine is reachable: `docker build -t feedlens .` checks more than this script")
    else:
        print("note: no Docker engine here (docker info fails): checking the recipe without building it")
    ins = instructions((REPO / "Dockerfile").read_text())
    spec = lint(ins)
    check_libraries(apt_packages(ins), spec["base"])
    packages_txt = [l.strip() for l in (REPO / "packages.txt").read_text().splitlines()
                    if l.strip() and not l.startswith("#")]
    report(sorted(packages_txt) == sorted(apt_packages(ins)), "packages.txt (Community Cloud) lists the same apt packages",
           f"{packages_txt} vs {apt_packages(ins)}")
    work = Path(tempfile.mkdtemp(prefix="feedlens-docker-"))
    os.chmod(work, 0o755)
    try:
        python = fresh_venv(work, ins, spec) if args.full else Path(sys.executable)
        if not args.no_start:
            run_app(spec, python, work)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"name": "docker_recipe_failed_checks", "value": len(FAILED), "unit": "checks"}))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
