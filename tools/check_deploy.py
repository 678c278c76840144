#!/usr/bin/env python3
"""check_deploy.py — the checks of tools/check_deploy.sh that need parsing (docs/deploy.md).

  files                 every deploy JSON / YAML / env file parses; the Dockerfile's build
                        stage runs deploy/build-image.sh and installs only packages that
                        .ci/deps.sh installs
  copy-sources DEST     copies what the Dockerfile's build stage COPYs into DEST, same layout
  runtime-libs BIN      every library BIN needs (ELF NEEDED) comes from a package the
                        runtime stage installs (or libc6)
  options BIN           every --option of a giftope command in docker-compose.yml exists in
                        `BIN COMMAND --help` (reads `docker-compose config` on stdin)
  metrics BIN           every metric the Grafana dashboard queries is one BIN exports: scraped
                        from a running `BIN consume --metrics-addr` (against an unreachable
                        broker), plus the families that appear only once there is data
                        (verdicts, close delay, checkpoint age), found as exact metric-name
                        literals in BIN

Run from the repository root. Exit 0 when every check passes, 1 otherwise (each failure
printed), 2 on bad usage.
"""
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import yaml

DASHBOARDS = "deploy/grafana/dashboards"
METRIC = re.compile(r"\bgiftope_[a-zA-Z0-9_]+\b")


def fail(msg):
    print(f"check_deploy: FAIL: {msg}", file=sys.stderr)
    return 1


def ok(msg):
    print(f"check_deploy: ok: {msg}", file=sys.stderr)
    return 0


def dockerfile_stages(path="Dockerfile"):
    """The instructions of each stage, continuation lines joined, comments dropped."""
    stages, text = [], open(path).read().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def apt_packages(stage):
    pkgs = []
    for ins in stage:
        m = re.search(r"apt-get install ([^&;]*)", ins)
        if m:
            pkgs += [w for w in m.group(1).split() if not w.startswith("-")]
    return pkgs


def check_files():
    bad = 0
    for path in glob.glob(f"{DASHBOARDS}/*.json"):
        try:
            d = json.load(open(path))
            assert d.get("panels"), "no panels"
        except (ValueError, AssertionError) as e:
            bad += fail(f"{path}: {e}")
    yamls = ["docker-compose.yml", "deploy/prometheus.yml"] + glob.glob(
        "deploy/grafana/provisioning/*/*.yml")
    for path in yamls:
        try:
            assert isinstance(yaml.safe_load(open(path)), dict), "not a mapping"
        except (yaml.YAMLError, AssertionError) as e:
            bad += fail(f"{path}: {e}")
    for path in glob.glob("deploy/**/*.env", recursive=True):
        for n, line in enumerate(open(path), 1):
            if line.strip() and not line.startswith("#") and not re.match(r"^[A-Z_][A-Z0-9_]*=\S*$", line):
                bad += fail(f"{path}:{n}: not KEY=VALUE: {line.rstrip()}")
    build = dockerfile_stages()[0]
    if not any(re.match(r"RUN bash deploy/build-image\.sh /src /build$", i) for i in build):
        bad += fail("Dockerfile: the build stage must RUN bash deploy/build-image.sh /src /build")
    ci = re.search(r'PKGS="([^"]*)"', open(".ci/deps.sh").read()).group(1).split()
    extra = sorted(set(apt_packages(build)) - set(ci))
    if extra:
        bad += fail(f"Dockerfile build stage installs packages .ci/deps.sh does not: {extra}")
    return bad or ok(f"{len(yamls)} YAML, the dashboards and the env files parse; Dockerfile build stage "
                     f"= deploy/build-image.sh with .ci/deps.sh packages")


def copy_sources(dest):
    for ins in dockerfile_stages()[0]:
        words = ins.split()
        if words[0].upper() != "COPY":
            continue
        for src in words[1:-1]:
            target = os.path.join(dest, src.rstrip("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.isdir(src):
                shutil.copytree(src, target)
            else:
                shutil.copy2(src, target)
    return ok(f"copied the build stage's sources to {dest}")


def dpkg_owner(path):
    """The package owning a library: dpkg knows a path as installed, which with merged /usr
    may be the symlinked one, the resolved one, or either under /lib instead of /usr/lib."""
    real = os.path.realpath(path)
    for p in dict.fromkeys([path, real, re.sub(r"^/usr/lib/", "/lib/", real),
                            re.sub(r"^/lib/", "/usr/lib/", path)]):
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0]
    return ""


def check_runtime_libs(binary):
    runtime = set(apt_packages(dockerfile_stages()[-1])) | {"libc6"}
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                        subprocess.run(["readelf", "-d", binary], check=True, capture_output=True,
                                       text=True).stdout)
    cache = subprocess.run(["ldconfig", "-p"], check=True, capture_output=True, text=True).stdout
    bad = 0
    for lib in needed:
        m = re.search(rf"^\s*{re.escape(lib)} \(.*\) => (\S+)$", cache, re.M)
        if not m:
            bad += fail(f"{binary} needs {lib}, which ldconfig does not know")
            continue
        owner = dpkg_owner(m.group(1))
        if owner not in runtime:
            bad += fail(f"{lib} comes from {owner or '?'}, which the runtime stage does not install")
    return bad or ok(f"runtime stage packages cover {', '.join(needed)}")


def check_options(binary):
    services = yaml.safe_load(sys.stdin)["services"]
    bad, n = 0, 0
    for name, svc in sorted(services.items()):
        if svc.get("image") != "giftope:local" or not svc.get("command"):
            continue
        cmd = svc["command"]
        helptext = subprocess.run([binary, cmd[0], "--help"], capture_output=True, text=True).stdout
        known = set(re.findall(r"^\s+(--[a-z][a-z0-9-]*)", helptext, re.M))
        for opt in (a for a in cmd[1:] if isinstance(a, str) and a.startswith("--")):
            n += 1
            if opt not in known:
                bad += fail(f"service {name}: giftope {cmd[0]} has no option {opt}")
    return bad or ok(f"the {n} options of the giftope services exist")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(binary):
    """The metric names a running consumer exports (family and sample names)."""
    port = free_port()
    proc = subprocess.Popen([binary, "consume", "--brokers", "127.0.0.1:1", "--topic", "t",
                             "--group", "check-deploy", "--idle-exit", "30s", "--quiet",
                             "--out", os.devnull, "--metrics-addr", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if proc.poll() is not None:
                raise RuntimeError(f"giftope consume exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    text = r.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"no /metrics on 127.0.0.1:{port} after 20 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    names = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+)", line) or re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", line)
        if m:
            names.add(m.group(1))
    return names


def dashboard_metrics(d):
    """Metric names in every PromQL expression and template query of a dashboard."""
    found = set()

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k in ("expr", "query", "definition") and isinstance(v, str):
                    found.update(METRIC.findall(v))
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(d)
    return found


def check_metrics(binary):
    help_text = subprocess.run([binary, "consume", "--help"], capture_output=True, text=True).stdout
    if "--metrics-addr" not in help_text:
        return fail("giftope consume has no --metrics-addr: the exported names cannot be read")
    scraped = scrape(binary)
    # lookarounds: adjacent literals share the NUL between them
    literals = {m.decode() for m in
                re.findall(rb"(?<=\0)giftope_[a-z0-9_]+(?=\0)", open(binary, "rb").read())}
    bad = 0
    for path in sorted(glob.glob(f"{DASHBOARDS}/*.json")):
        used = dashboard_metrics(json.load(open(path)))
        for name in sorted(used - scraped - literals):
            bad += fail(f"{path}: {name} is not a metric giftope consume exports")
        late = sorted((used - scraped) & literals)
        if not bad:
            ok(f"{path}: {len(used)} metrics, all exported ({len(used) - len(late)} in an idle scrape; "
               f"only with data: {', '.join(late) or 'none'})")
    return bad


def main(argv):
    checks = {"files": (0, check_files), "copy-sources": (1, copy_sources),
              "runtime-libs": (1, check_runtime_libs), "options": (1, check_options),
              "metrics": (1, check_metrics)}
    if len(argv) < 2 or argv[1] not in checks or len(argv) != 2 + checks[argv[1]][0]:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return 1 if checks[argv[1]][1](*argv[2:]) else 0
    except (OSError, RuntimeError, subprocess.SubprocessError) as e:
        return fail(f"{argv[1]}: {e}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
