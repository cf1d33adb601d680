"""labrun.config against the real dvc: same bytes written, same files accepted, same values.

Skipped when dvc is missing (repo-root ``.venv-dvc/bin/dvc``, or ``$LABRUN_DVC``).
The batch checks run dvc's own Python once for a whole corpus, which keeps them
fast; the CLI checks call the ``dvc`` command itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from labrun.config import (
    Config,
    load_config,
    set_option,
    unset_option,
)
from labrun.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _find_dvc() -> Path | None:
    configured = os.environ.get("LABRUN_DVC")
    candidate = Path(configured) if configured else ROOT / ".venv-dvc" / "bin" / "dvc"
    return candidate if candidate.is_file() else None


DVC = _find_dvc()
DVC_PYTHON = DVC.parent / "python" if DVC else None
pytestmark = [
    pytest.mark.compat,
    pytest.mark.skipif(DVC is None, reason="real dvc not installed (.venv-dvc or LABRUN_DVC)"),
]
needs_dvc_python = pytest.mark.skipif(
    DVC_PYTHON is None or not DVC_PYTHON.is_file(), reason="dvc's own python not found"
)

# Runs inside dvc's environment: {"ops": ...} replays `dvc config` argument lists
# in one process; {"load": [dvc dirs]} loads each with dvc's Config.
_DVC_SCRIPT = r"""
import json, os, sys
request = json.load(sys.stdin)
result = []
if "ops" in request:
    from dvc.cli import main
    os.chdir(request["cwd"])
    for argv in request["ops"]:
        code = main(["config", *argv])
        with open(request["file"], encoding="utf-8") as handle:
            result.append({"code": code, "text": handle.read()})
else:
    from dvc.config import Config
    for dvc_dir in request["load"]:
        try:
            result.append({"ok": True, "conf": Config(dvc_dir)})
        except Exception as exc:  # configobj's interpolation errors are not ConfigError
            result.append({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
print("@@" + json.dumps(result, default=str))
"""


@pytest.fixture
def dvc_env(tmp_path: Path) -> dict[str, str]:
    """An environment where dvc sees only the test's own config files, and no network."""
    return {
        **os.environ,
        "DVC_SYSTEM_CONFIG_DIR": str(tmp_path / "etc-dvc"),
        "DVC_GLOBAL_CONFIG_DIR": str(tmp_path / "home-dvc"),
        "DVC_SITE_CACHE_DIR": str(tmp_path / "site-cache"),
        "DVC_NO_ANALYTICS": "1",
    }


def run_dvc_python(request: dict[str, Any], env: dict[str, str]) -> list[dict[str, Any]]:
    assert DVC_PYTHON is not None
    proc = subprocess.run(
        [str(DVC_PYTHON), "-c", _DVC_SCRIPT],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@")]
    assert marker, proc.stderr
    return list(json.loads(marker[-1][2:]))


def make_dvc_dir(root: Path, config: str) -> Path:
    dvc_dir = root / ".dvc"
    dvc_dir.mkdir(parents=True)
    (dvc_dir / "config").write_text(config)
    return dvc_dir


def labrun_section(name: str) -> tuple[str, str]:
    """`dvc config` names (``remote.x.url``, ``core.remote``) → (section, option)."""
    parts = name.split(".")
    if len(parts) == 3:
        return f'{parts[0]} "{parts[1]}"', parts[2]
    return parts[0], parts[1]


# --- writing: same bytes as `dvc config` --------------------------------------------------------

MESSY_START = """\
# a comment that dvc drops
[Exp]
  Auto_Push = TRUE  # inline
[remote "MyR"]
  url = ./st/../st2/
[cache]
  type = hardlink, symlink
  dir = ./c/../cache2/
[core]
  remote = MyR
['db "main"']
    password = '''a'b"c'''
"""

OPS: list[list[str]] = [
    ["cache.type", "hardlink,symlink"],
    ["core.autostage", "True"],
    ["remote.myremote.url", "/tmp/st"],
    ["core.remote", "myremote"],
    ["exp.git_remote", "a b"],
    ["plots.out_dir", " x"],
    ["studio.url", "it's"],
    ["studio.token", 'a"b'],
    ["hydra.config_name", "x'y\"z"],
    ["hydra.plugins_path", "a#b"],
    ["cache.dir", "../elsewhere/./cache"],
    ["remote.s3r.url", "s3://bucket/p"],
    ["remote.s3r.region", "eu-west-1"],
    ["remote.MyR.url", "../st3"],
    ["db.main.url", "postgresql://h/d"],
    ["-u", "core.autostage"],
    ["-u", "hydra.config_name"],
    ["-u", "hydra.plugins_path"],
    ["core.no_scm", "false"],
    ["studio.token", "a'''b\""],
    ["studio.repo_url", "#x"],
    ["studio.url", ","],
    ["plots.html_template", "two\nlines"],
    ["parsing.list", "APPEND"],
    ["-u", "exp.auto_push"],
    ["-u", "remote.s3r.region"],
]


def apply_with_labrun(path: Path, argv: list[str]) -> None:
    if argv[0] == "-u":
        unset_option(path, *labrun_section(argv[1]))
    else:
        set_option(path, *labrun_section(argv[0]), argv[1])


@needs_dvc_python
def test_set_and_unset_write_the_same_bytes_as_dvc(tmp_path: Path, dvc_env: dict[str, str]) -> None:
    theirs = make_dvc_dir(tmp_path / "dvc", MESSY_START)
    ours = make_dvc_dir(tmp_path / "labrun", MESSY_START) / "config"
    # dvc takes relative paths from the cwd; run it inside .dvc so they mean the same
    request = {"cwd": str(theirs), "file": str(theirs / "config"), "ops": OPS}
    snapshots = run_dvc_python(request, dvc_env)
    for argv, snapshot in zip(OPS, snapshots, strict=True):
        assert snapshot["code"] == 0, argv
        apply_with_labrun(ours, argv)
        assert ours.read_text() == snapshot["text"], argv


def test_dvc_lists_what_labrun_wrote(tmp_path: Path, dvc_env: dict[str, str]) -> None:
    assert DVC is not None
    dvc_dir = make_dvc_dir(tmp_path, "")
    path = dvc_dir / "config"
    set_option(path, "cache", "type", "hardlink,symlink")
    set_option(path, 'remote "Store"', "url", "../storage")
    set_option(path, 'remote "Store"', "jobs", "4")
    set_option(path, "core", "remote", "store")
    set_option(path, "studio", "token", "x'y\"z, w")
    set_option(path, "hydra", "plugins_path", "a#b")
    proc = subprocess.run(
        [str(DVC), "config", "-l", "--project"],
        cwd=tmp_path,
        env=dvc_env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert sorted(proc.stdout.splitlines()) == sorted(
        [
            "cache.type=hardlink,symlink",
            f"remote.store.url={tmp_path / 'storage'}",
            "remote.store.jobs=4",
            "core.remote=store",
            "studio.token=x'y\"z, w",
            "hydra.plugins_path=a#b",
        ]
    )


def test_labrun_reads_what_dvc_wrote(tmp_path: Path, dvc_env: dict[str, str]) -> None:
    assert DVC is not None
    dvc_dir = make_dvc_dir(tmp_path, "")
    for argv in (
        ["cache.type", "symlink,copy"],
        ["remote.Store.url", "../storage"],
        ["core.remote", "Store"],
        ["core.autostage", "TRUE"],
        ["exp.git_remote", "up, stream"],
    ):
        subprocess.run(
            [str(DVC), "config", *argv], cwd=dvc_dir, env=dvc_env, check=True, capture_output=True
        )
    cfg = load_config(dvc_dir, levels=("repo",))
    assert cfg.cache_types == ("symlink", "copy")
    assert cfg.core_remote == "store"
    assert cfg.remotes["store"]["url"] == str(tmp_path / "storage")
    assert cfg.autostage is True
    assert cfg.exp_git_remote == "up, stream"


def test_a_bad_config_is_exit_251_for_both(tmp_path: Path, dvc_env: dict[str, str]) -> None:
    assert DVC is not None
    make_dvc_dir(tmp_path, "[core]\n    no_scm = true\n    bogus = 1\n")
    command = [str(DVC), "status"]
    proc = subprocess.run(
        command, cwd=tmp_path, env=dvc_env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 251
    assert "extra keys not allowed" in proc.stderr
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / ".dvc", levels=("repo",))
    assert info.value.exit_code == 251
    assert "extra keys not allowed: 'core.bogus'" in info.value.message


# --- reading: the same files accepted, the same values ------------------------------------------

ANY = "['remote \"r\"']\n    url = remote://other/p\n    k = {}\n"  # dvc keeps any value here

PARSE_FORMS = [
    "plain",
    '"hardlink,symlink"',
    "hardlink,symlink",
    "a, b, ",
    "only,",
    ",",
    "",
    '""',
    "value   # a comment",
    "#only a comment",
    '"a # b"',
    '"a"b"',
    "'\"q\"'",
    "it's",
    "'''a'b\"c'''  # c",
    "'''first\n  second\nthird'''",
    '" lead"',
    "x%y",
    "%(url)s/sub",
    '"a" b',
    '"open',
    "a,,b",
    ", x",
    "%(missing)s",
    "'''a'''b'''",
    '"a", "b"',
    "'a' , 'b'",
    "a,#c",
    "%%(url)s",
    "a b,c d",
    "\\",
]

VALIDATION_CASES = [
    "[core]\n    bogus = 1\n",
    "[bogus]\n    x = 1\n",
    "[core]\n    autostage = yes\n",
    "[core]\n    autostage = TRUE\n    no_scm = False\n",
    "[core]\n    checksum_jobs = 0\n",
    "[core]\n    checksum_jobs = 12\n",
    "[core]\n    remote = MyRemote\n",
    "[cache]\n    type = hardlink,foo\n",
    '[cache]\n    type = "reflink, copy"\n',
    "[cache]\n    type = symlink,\n",
    "[cache]\n    type = ,\n",
    "[cache]\n    type = \n",
    "[core]\n    remote = A,B\n",
    "[cache]\n    shared = GROUP\n",
    "[cache]\n    shared = world\n",
    "[cache]\n    dir = ../cache\n",
    "[parsing]\n    bool = BOOLEAN_OPTIONAL\n    list = append\n",
    "[parsing]\n    list = \n",
    "[exp]\n    git_remote = a, b\n",
    "[exp]\n    auto_push = true\n    code = src\n",
    "[state]\n    row_limit = 5\n    row_cleanup_quota = 101\n",
    "[state]\n    dir = x\n    row_cleanup_quota = 100\n",
    "[index]\n    dir = x\n",
    "[feature]\n    machine = true\n    other = 1\n",
    "[plots]\n    auto_open = true\n    out_dir = p\n    html_template = t\n",
    "[studio]\n    token = t\n    offline = true\n    url = u\n    repo_url = r\n",
    "[hydra]\n    enabled = true\n    config_dir = c\n    config_name = n\n",
    "[hydra]\n    config_dir = a\n    config_module = b\n",
    '[remote "x"]\n    foo = 1\n',
    '[remote "x"]\n    url = /tmp/x\n    foo = 1\n',
    '[remote "x"]\n    url = /tmp/x\n    type = copy\n    verify = true\n    jobs = 2\n',
    '[remote "x"]\n    url = /tmp/x\n    region = eu\n',
    '[remote "x"]\n    url = zz://b/x\n',
    '[remote "x"]\n    url = s3://b/x\n    region = eu\n    use_ssl = false\n',
    '[remote "x"]\n    url = s3://b/x\n    ssl_verify = /ca.pem\n    read_timeout = 3\n',
    '[remote "x"]\n    url = s3://b/x\n    cache_regions = true\n',
    '[remote "x"]\n    url = s3:///no-host\n    region = eu\n',
    '[remote "x"]\n    url = https://h/p\n    auth = DIGEST\n    connect_timeout = 1.5\n',
    '[remote "x"]\n    url = ssh://u@h/p\n    port = 22\n    keyfile = k\n    type = copy\n',
    '[remote "x"]\n    url = azure://c/p\n    exclude_managed_identity_credential = true\n',
    '[remote "x"]\n    url = gdrive://id/p\n    gdrive_trash_only = true\n',
    '[remote "x"]\n    url = hdfs://u@h/p\n    replication = 3\n',
    '[remote "x"]\n    url = webdavs://h/p\n    timeout = 5\n    bearer_token_command = t\n',
    '[remote "x"]\n    url = oss://b/p\n    oss_endpoint = e\n',
    '[remote "x"]\n    url = gs://b/p\n    projectname = pr\n',
    '[remote "x"]\n    url = webhdfs://h/p\n    kerberos = true\n',
    '[remote "x"]\n    url = a,b\n',
    '[machine "m"]\n    cloud = AWS\n    spot_price = 0.5\n    instance_type = XL\n',
    '[machine "m"]\n    cloud = gcp\n',
    '[db "d"]\n    url = u\n    username = n\n',
    '[db "d"]\n    host = h\n',
    "[remote]\n    url = /x\n",
    "top = 1\n",
    "[core]\n[[sub]]\n    x = 1\n",
    "[core]\n    remote = a\n    remote = b\n",
    "[Core]\n    Remote = A\n[CORE]\n    autostage = true\n",
    '[ Remote  "R" ] # c\n    url = /r\n',
    '["remote \\"r\\""]\n    url = /r\n',
    "[remote 'r']\n    url = /r\n",
    '[remote "r"]\n    URL = /r\n[remote "R"]\n    jobs = 2\n',
    "[core]\n    remote = %(missing)s\n",
]


def labrun_outcome(dvc_dir: Path) -> dict[str, Any]:
    try:
        cfg = load_config(dvc_dir, levels=("repo",))
    except ConfigError as exc:
        return {"ok": False, "error": exc.message}
    return {"ok": True, "values": flat_values(cfg)}


def flat_values(cfg: Config) -> dict[str, Any]:
    return {
        f"{section}.{option}": list(value) if isinstance(value, tuple) else value
        for section, options in cfg.sections.items()
        for option, value in options.items()
    }


def dvc_values(conf: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """dvc's validated values at the same places as labrun's keys."""
    found = {}
    for key in keys:
        section, option = key.rsplit(".", 1)
        named = re.fullmatch(r'(remote|machine|db) "(.*)"', section)
        options = conf[named[1]][named[2]] if named else conf[section]
        found[key] = options.get(option, "<missing>")
    return found


def compare_with_dvc(tmp_path: Path, env: dict[str, str], configs: list[str]) -> None:
    dirs = [make_dvc_dir(tmp_path / f"p{i}", text) for i, text in enumerate(configs)]
    theirs = run_dvc_python({"load": [str(d) for d in dirs]}, env)
    for text, dvc_dir, their in zip(configs, dirs, theirs, strict=True):
        ours = labrun_outcome(dvc_dir)
        assert ours["ok"] == their["ok"], (text, ours, their)
        if ours["ok"]:
            keys = list(ours["values"])
            assert ours["values"] == dvc_values(their["conf"], keys), text


@needs_dvc_python
def test_values_parse_like_dvc(tmp_path: Path, dvc_env: dict[str, str]) -> None:
    compare_with_dvc(tmp_path, dvc_env, [ANY.format(form) for form in PARSE_FORMS])


@needs_dvc_python
def test_the_same_files_are_accepted_with_the_same_values(
    tmp_path: Path, dvc_env: dict[str, str]
) -> None:
    compare_with_dvc(tmp_path, dvc_env, VALIDATION_CASES)
