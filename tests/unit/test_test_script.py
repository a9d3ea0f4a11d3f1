"""scripts/test.sh against the README: what it installs is listed there, and the apt part
waits for the dpkg lock and leaves no service enabled at boot.

Read as text: running the install needs root, apt and the network (``.ci/run`` does that).
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
from pathlib import Path

from harness import REPO_ROOT

SCRIPT = (REPO_ROOT / "scripts" / "test.sh").read_text()
README = (REPO_ROOT / "README.md").read_text()


def installed_packages() -> set[str]:
    """Every Debian package scripts/test.sh may install: DEB_FOR's values and the packages
    added by name (``missing_debs+=(...)``)."""
    table = SCRIPT[SCRIPT.index("declare -A DEB_FOR=(") : SCRIPT.index("\n)\n")]
    packages = set(re.findall(r"\]=([\w.+-]+)", table))
    packages |= set(re.findall(r"missing_debs\+=\(([\w.+-]+)\)", SCRIPT))
    return packages


def test_the_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(REPO_ROOT / "scripts" / "test.sh")], check=True)


def test_the_readme_lists_every_debian_package_the_script_installs() -> None:
    packages = installed_packages()
    assert {"nginx-light", "redis-server", "apache2", "caddy", "util-linux"} <= packages
    section = README[README.index("What `./scripts/test.sh` installs") :]
    section = section[: section.index("\n## ")]
    listed = set(re.findall(r"`([\w.+-]+)`", section))
    assert packages <= listed, f"missing from the README: {sorted(packages - listed)}"


def _run_lock_functions(lock: Path, command: str) -> subprocess.CompletedProcess[str]:
    """The script's own say/die/apt_locked/wait_for_apt, run against ``lock`` instead of
    dpkg's lock files (no root needed), with a one-second poll and limit."""
    functions = SCRIPT[SCRIPT.index("say() {") : SCRIPT.index("have() {")]
    functions += SCRIPT[SCRIPT.index("# How long to wait") : SCRIPT.index("# Units and init")]
    program = (
        f"set -euo pipefail\n{functions}\nSUDO=()\nAPT_LOCKS=({lock})\n"
        f"APT_LOCK_WAIT=1\nAPT_LOCK_POLL=1\n{command}\n"
    )
    return subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=60)


def test_apt_waits_for_the_dpkg_lock_then_stops_with_a_clear_message(tmp_path: Path) -> None:
    """apt-get alone fails at once when unattended-upgrades holds the lock: the script waits
    (MEDIASERVE_APT_LOCK_WAIT seconds), then names the problem and the fix."""
    lock = tmp_path / "lock-frontend"
    lock.touch()
    free = _run_lock_functions(lock, "wait_for_apt && echo proceed")
    assert (free.returncode, free.stdout.strip()) == (0, "proceed")
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)  # what apt and dpkg take
        held = _run_lock_functions(lock, "wait_for_apt && echo proceed")
    finally:
        os.close(fd)
    assert held.returncode == 1
    assert "proceed" not in held.stdout
    assert "waiting up to 1s" in held.stdout
    assert "dpkg lock is still held after 1s" in held.stderr
    assert "MEDIASERVE_APT_LOCK_WAIT" in held.stderr


def test_both_apt_calls_wait_first_and_pass_the_timeout_to_apt() -> None:
    assert "APT_LOCK_WAIT=${MEDIASERVE_APT_LOCK_WAIT:-300}" in SCRIPT
    assert '-o "DPkg::Lock::Timeout=$APT_LOCK_WAIT"' in SCRIPT
    assert re.search(r'wait_for_apt\n\s*"\$\{apt\[@\]\}" update', SCRIPT)
    assert re.search(r'wait_for_apt\n\s*"\$\{apt\[@\]\}" install', SCRIPT)


FAKE_SYSTEMCTL = """#!/bin/sh
# list-unit-files prints $STATE; disable records its unit in $DISABLED.
case "$1" in
    list-unit-files) cat "$STATE" ;;
    disable) shift; for a in "$@"; do
        case "$a" in -*) ;; *) echo "$a" >>"$DISABLED" ;; esac
    done ;;
esac
"""


def test_only_services_the_install_enabled_are_disabled_at_boot(tmp_path: Path) -> None:
    """policy-rc.d keeps nginx/redis/apache2/caddy from starting during the install, but the
    packages still enable them at boot: those, and only those, are disabled again."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(FAKE_SYSTEMCTL)
    (bin_dir / "systemctl").chmod(0o755)
    state, disabled = tmp_path / "state", tmp_path / "disabled"
    state.write_text("ssh.service enabled enabled\npostgresql.service enabled enabled\n")
    functions = SCRIPT[SCRIPT.index("say() {") : SCRIPT.index("have() {")]
    functions += SCRIPT[SCRIPT.index("# Units and init") : SCRIPT.index("if ((${#missing_debs")]
    install = (
        "printf 'nginx.service enabled enabled\\nredis-server.service enabled enabled\\n"
        'caddy.service enabled enabled\\n\' >>"$STATE"'
    )
    program = (
        f"set -euo pipefail\n{functions}\nSUDO=()\nbefore=$(enabled_at_boot | sort -u)\n"
        f'{install}\ndisable_new_at_boot "$before"\n'
    )
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "STATE": str(state), "DISABLED": str(disabled)}  # fmt: skip
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, env=env,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(disabled.read_text().split()) == [
        "caddy.service",
        "nginx.service",
        "redis-server.service",
    ]
    assert "Not started at boot" in done.stdout


def test_the_readme_says_what_is_left_enabled() -> None:
    assert "exit 101" in SCRIPT  # policy-rc.d: nothing is started during the install
    assert "MEDIASERVE_APT_LOCK_WAIT" in README
    assert "nor leaves enabled at boot" in README


def test_a_failing_systemctl_does_not_stop_the_install(tmp_path: Path) -> None:
    """In a container systemctl may exist and fail ("System has not been booted with
    systemd"): the boot bookkeeping must not end the script under ``set -euo pipefail``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text("#!/bin/sh\necho 'not booted with systemd' >&2\nexit 1\n")
    (bin_dir / "systemctl").chmod(0o755)
    functions = SCRIPT[SCRIPT.index("say() {") : SCRIPT.index("have() {")]
    functions += SCRIPT[SCRIPT.index("# Units and init") : SCRIPT.index("if ((${#missing_debs")]
    program = (
        f"set -euo pipefail\n{functions}\nSUDO=()\nbefore=$(enabled_at_boot | sort -u)\n"
        'disable_new_at_boot "$before"\necho survived\n'
    )
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, env=env, timeout=60
    )
    assert (done.returncode, done.stdout.strip().splitlines()[-1]) == (0, "survived"), done.stderr
