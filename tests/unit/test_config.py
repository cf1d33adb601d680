"""labrun.config: the INI dialect, DVC's schema, level merging and rewriting one file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from labrun.config import (
    Config,
    Sections,
    canonical_section,
    config_path,
    dump_ini,
    load_config,
    parse_ini,
    set_option,
    unset_option,
)
from labrun.errors import ConfigError


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root with an empty .dvc/config, as the working directory."""
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def env_for(root: Path) -> dict[str, str]:
    """Point the system and global levels into the test's own directory."""
    return {
        "DVC_SYSTEM_CONFIG_DIR": str(root / "etc-dvc"),
        "DVC_GLOBAL_CONFIG_DIR": str(root / "home-dvc"),
    }


def load(root: Path, text: str | None = None, **files: str) -> Config:
    """Write .dvc/config (and named level files) then load every level."""
    if text is not None:
        (root / ".dvc" / "config").write_text(text)
    targets = {
        "local": root / ".dvc" / "config.local",
        "system": root / "etc-dvc" / "config",
        "global": root / "home-dvc" / "config",
    }
    for level, content in files.items():
        targets[level].parent.mkdir(parents=True, exist_ok=True)
        targets[level].write_text(content)
    return load_config(root / ".dvc", environ=env_for(root))


def config_error(root: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load(root, text)
    assert info.value.exit_code == 251
    return info.value


# --- the INI dialect ----------------------------------------------------------------------


def test_reads_what_dvc_writes() -> None:
    text = (
        "[core]\n    remote = myremote\n    autostage = true\n"
        '[cache]\n    type = "hardlink,symlink"\n'
        "['remote \"myremote\"']\n    url = /mnt/dvc-storage\n"
        '[remote "other"]\n    url = s3://bucket/path\n    region = us-east-1\n'
    )
    assert parse_ini(text) == {
        "core": {"remote": "myremote", "autostage": "true"},
        "cache": {"type": "hardlink,symlink"},
        'remote "myremote"': {"url": "/mnt/dvc-storage"},
        'remote "other"': {"url": "s3://bucket/path", "region": "us-east-1"},
    }


def test_names_are_case_insensitive_and_named_sections_canonical() -> None:
    text = '[CORE]\n  AutoStage = TRUE\n[ Remote   "MyStore" ]\nURL = /x\n'
    assert parse_ini(text) == {"core": {"autostage": "TRUE"}, 'remote "mystore"': {"url": "/x"}}
    assert canonical_section('DB  "Main"') == 'db "main"'


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("plain", "plain"),
        ('"hardlink,symlink"', "hardlink,symlink"),
        ("hardlink,symlink", ("hardlink", "symlink")),
        ("a, b, ", ("a", "b")),
        ("only,", ("only",)),
        (",", ()),
        ("", ""),
        ('""', ""),
        ("value   # a comment", "value"),
        ("#only a comment", ""),
        ('"a # b"', "a # b"),
        ('"a"b"', 'a"b'),
        ("'\"q\"'", '"q"'),
        ("it's", "it's"),
        ("'''a'b\"c'''  # c", "a'b\"c"),
        ('" lead"', " lead"),
        ("x%y", "x%y"),
    ],
)
def test_value_forms(written: str, value: object) -> None:
    assert parse_ini(f"[s]\n    k = {written}\n") == {"s": {"k": value}}


def test_multiline_triple_quoted_value() -> None:
    text = "[s]\n    k = '''first\n  second\nthird'''  # done\n    j = 1\n"
    assert parse_ini(text) == {"s": {"k": "first\n  second\nthird", "j": "1"}}


def test_interpolation_within_a_section() -> None:
    text = "[s]\n    base = /data\n    k = %(base)s/x, %(base)s/y\n"
    assert parse_ini(text)["s"]["k"] == ("/data/x", "/data/y")
    with pytest.raises(ConfigError, match="missing option 'nope'"):
        parse_ini("[s]\n    k = %(nope)s\n")
    with pytest.raises(ConfigError, match="interpolation loop"):
        parse_ini("[s]\n    a = %(b)s\n    b = %(a)s\n")


@pytest.mark.parametrize(
    ("text", "line", "detail"),
    [
        ("[core\n", 1, "invalid line '[core'"),
        ("[core]\n    autostage\n", 2, "invalid line 'autostage'"),
        ("[core]\n    remote = a\n    remote = b\n", 3, "duplicate option 'remote' in [core]"),
        ("[core]\n[cache]\n[core]\n", 3, "duplicate section [core]"),
        ("autostage = true\n", 1, "outside any [section]"),
        ("[core]\n[[sub]]\n", 2, "nested section [[sub]]"),
        ("[[core]\n", 1, "unbalanced brackets"),
        ('[s]\n    k = "open\n', 2, "unbalanced quotes"),
        ('[s]\n    k = "a" b\n', 2, "cannot parse value"),
        ("[s]\n    k = a,,b\n", 2, "empty list item"),
        ("[s]\n    k = '''never closed\n", 2, "unterminated '''"),
    ],
)
def test_syntax_errors_name_file_and_line(text: str, line: int, detail: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_ini(text, ".dvc/config")
    assert info.value.message.startswith(f"configuration error: .dvc/config:{line}: ")
    assert detail in info.value.message
    assert info.value.hint


# --- validation against DVC's schema --------------------------------------------------------


def test_unknown_option_names_file_section_and_option(project: Path) -> None:
    err = config_error(project, "[core]\n    bogus = 1\n")
    assert err.message == "configuration error: .dvc/config: extra keys not allowed: 'core.bogus'"
    assert err.hint is not None and "remove 'bogus' from [core]" in err.hint


def test_unknown_section(project: Path) -> None:
    err = config_error(project, "[bogus]\n    x = 1\n")
    assert err.message == "configuration error: .dvc/config: extra keys not allowed: 'bogus'"
    err = config_error(project, "[remote]\n    url = /x\n")
    assert err.hint is not None and "['remote \"myname\"']" in err.hint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[core]\n    autostage = yes\n", "expected true or false: 'core.autostage'"),
        ("[core]\n    checksum_jobs = 0\n", "value must be at least 1: 'core.checksum_jobs'"),
        ("[core]\n    checksum_jobs = abc\n", "expected int: 'core.checksum_jobs'"),
        ("[cache]\n    type = hardlink,foo\n", "Unsupported cache type(s): foo: 'cache.type'"),
        (
            '[cache]\n    type = "foo, copy, bar, foo"\n',
            "Unsupported cache type(s): foo, bar: 'cache.type'",
        ),
        ("[cache]\n    shared = world\n", "expected one of group: 'cache.shared'"),
        (
            "[parsing]\n    bool = xx\n",
            "expected one of store_true, boolean_optional: 'parsing.bool'",
        ),
        ("[parsing]\n    list = \n", "expected one of nargs, append: 'parsing.list'"),
        ("[exp]\n    git_remote = a, b\n", "expected str: 'exp.git_remote'"),
        ("[state]\n    row_cleanup_quota = 101\n", "value must be at most 100"),
        ('[remote "x"]\n    foo = 1\n', "expected 'url': 'remote.x'"),
        ('[remote "x"]\n    url = /tmp/x\n    foo = 1\n', "extra keys not allowed: 'remote.x.foo'"),
        ('[remote "x"]\n    url = /tmp/x\n    region = eu\n', "extra keys not allowed"),
        ('[remote "x"]\n    url = zz://b/x\n', "Unsupported URL type zz://: 'remote.x.url'"),
        ('[remote "x"]\n    url = s3://b/x\n    jobs = 0\n', "at least 1: 'remote.x.jobs'"),
        ('[remote "x"]\n    url = s3://b/x\n    cache_regions = true\n', "expected bool"),
        ('[machine "m"]\n    cloud = gcp\n', "expected one of aws, azure: 'machine.m.cloud'"),
        ('[db "d"]\n    host = h\n', "extra keys not allowed: 'db.d.host'"),
        (
            "[hydra]\n    config_dir = a\n    config_module = b\n",
            "two or more values in the same group of exclusion 'config_source'",
        ),
    ],
)
def test_invalid_values_are_rejected_with_dvcs_wording(
    project: Path, text: str, message: str
) -> None:
    err = config_error(project, text)
    assert err.message.startswith("configuration error: .dvc/config: ")
    assert message in err.message


@pytest.mark.parametrize("word", ["true", "TRUE", "True", "tRuE", "false", "FALSE"])
def test_booleans_are_case_insensitive(project: Path, word: str) -> None:
    cfg = load(project, f"[core]\n    autostage = {word}\n")
    assert cfg.autostage is (word.lower() == "true")


KITCHEN_SINK = """\
[core]
    remote = Store
    machine = m
    checksum_jobs = 3
    interactive = false
    analytics = false
    hardlink_lock = true
    no_scm = true
    autostage = true
    check_update = false
    site_cache_dir = /var/tmp/x
    experiments = true
[cache]
    dir = ../cache
    type = hardlink,symlink
    shared = GROUP
    slow_link_warning = false
    verify = true
    protected = true
    local = old
[state]
    dir = x
    row_limit = 10
    row_cleanup_quota = 50
[index]
    dir = x
[feature]
    machine = true
[plots]
    html_template = t.html
    auto_open = true
    out_dir = plots
[exp]
    auto_push = true
    git_remote = upstream
    code = old
[parsing]
    bool = BOOLEAN_OPTIONAL
    list = append
[hydra]
    enabled = true
    config_module = pkg.conf
    config_name = main
    plugins_path = plugins
[studio]
    token = t
    url = https://studio.example
    repo_url = git@h:r.git
    offline = true
['remote "store"']
    url = s3://bucket/path
    region = eu-west-1
    use_ssl = false
    ssl_verify = /etc/ca.pem
    read_timeout = 30
    jobs = 8
['remote "local"']
    url = ../storage
    type = copy
    verify = true
['remote "web"']
    url = https://h/p
    auth = basic
    connect_timeout = 2.5
['remote "sub"']
    url = remote://store/sub
    anything = goes
['machine "m"']
    cloud = aws
    region = us-west
    spot = true
    spot_price = 0.5
    instance_hdd_size = 30
    instance_type = L
['db "d"']
    url = postgresql://h/db
    username = u
    password = p
"""


def test_every_section_of_dvcs_schema_loads(project: Path) -> None:
    cfg = load(project, KITCHEN_SINK)
    assert cfg.core_remote == "store"
    assert cfg.checksum_jobs == 3
    assert cfg.cache_types == ("hardlink", "symlink")
    assert cfg.cache_shared == "group"
    assert (cfg.no_scm, cfg.autostage, cfg.interactive, cfg.hardlink_lock) == (
        True,
        True,
        False,
        True,
    )
    assert (cfg.check_update, cfg.analytics, cfg.site_cache_dir) == (False, False, "/var/tmp/x")
    assert (cfg.cache_slow_link_warning, cfg.cache_verify) == (False, True)
    assert (cfg.parsing_bool, cfg.parsing_list) == ("boolean_optional", "append")
    assert (cfg.exp_auto_push, cfg.exp_git_remote) == (True, "upstream")
    assert cfg.hydra_enabled and cfg.hydra_config_module == "pkg.conf"
    assert cfg.hydra_config_dir is None
    assert (cfg.hydra_config_name, cfg.hydra_plugins_path) == ("main", "plugins")
    assert cfg.get("state", "row_limit") == 10
    assert cfg.get('machine "m"', "spot_price") == 0.5
    assert cfg.get('machine "m"', "instance_type") == "l"
    assert cfg.get("studio", "offline") is True
    assert set(cfg.remotes) == {"store", "local", "web", "sub"}
    assert cfg.remotes["store"]["ssl_verify"] == "/etc/ca.pem"
    assert cfg.remotes["store"]["use_ssl"] is False
    assert cfg.remotes["web"]["connect_timeout"] == 2.5
    assert cfg.remotes["local"]["url"] == str(project / "storage")
    assert cfg.warnings == ()


def test_defaults_without_any_file(tmp_path: Path) -> None:
    cfg = load_config(tmp_path / ".dvc", environ=env_for(tmp_path))
    assert cfg.cache_dir == tmp_path / ".dvc" / "cache"
    assert cfg.cache_types == ("reflink", "copy")
    assert cfg.core_remote is None and cfg.cache_shared is None
    assert not (cfg.autostage or cfg.no_scm or cfg.interactive or cfg.hardlink_lock)
    assert cfg.check_update and cfg.analytics and cfg.cache_slow_link_warning
    assert (cfg.parsing_bool, cfg.parsing_list) == ("store_true", "nargs")
    assert (cfg.exp_auto_push, cfg.exp_git_remote) == (False, "origin")
    assert not cfg.hydra_enabled
    assert (cfg.hydra_config_dir, cfg.hydra_config_name, cfg.hydra_plugins_path) == (
        "conf",
        "config",
        "",
    )
    assert 1 <= cfg.checksum_jobs <= 4
    assert cfg.remotes == {}
    assert cfg.get("core", "remote", "fallback") == "fallback"
    (tmp_path / ".dvc").mkdir()
    assert load(tmp_path, "[cache]\n    type = ,\n").cache_types == ("reflink", "copy")


def test_unknown_feature_options_are_ignored_with_a_warning(project: Path) -> None:
    cfg = load(project, "[feature]\n    foo = 1\n    bar = 2\n    machine = false\n")
    assert cfg.warnings == ("'feature.foo', 'feature.bar' config options are unsupported",)
    assert dict(cfg.sections["feature"]) == {"machine": False}


def test_config_is_frozen(project: Path) -> None:
    cfg = load(project, "[core]\n    autostage = true\n")
    with pytest.raises(AttributeError):
        cfg.dvc_dir = project  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.sections["core"]["autostage"] = False  # type: ignore[index]
    with pytest.raises(TypeError):
        cfg.remotes["x"] = {}  # type: ignore[index]


# --- levels, merging and paths ----------------------------------------------------------------


def test_levels_merge_in_order_later_wins(project: Path) -> None:
    cfg = load(
        project,
        "[core]\n    remote = repo\n",
        system="[core]\n    remote = system\n    autostage = true\n[exp]\n    git_remote = s\n",
        local="[core]\n    remote = local\n",
        **{"global": "[core]\n    autostage = false\n    no_scm = true\n"},
    )
    assert (cfg.core_remote, cfg.autostage, cfg.no_scm, cfg.exp_git_remote) == (
        "local",
        False,
        True,
        "s",
    )
    assert cfg.origin("core", "remote") == project / ".dvc" / "config.local"
    assert cfg.origin("core", "autostage") == project / "home-dvc" / "config"
    assert cfg.origin("core", "check_update") is None
    assert list(cfg.files) == ["system", "global", "repo", "local"]


def test_levels_argument_restricts_the_files(project: Path) -> None:
    load(project, "[core]\n    remote = repo\n", local="[core]\n    remote = local\n")
    only_repo = load_config(project / ".dvc", levels=("repo",), environ=env_for(project))
    assert only_repo.core_remote == "repo" and list(only_repo.files) == ["repo"]
    with pytest.raises(ConfigError, match="unknown config level 'team'"):
        load_config(project / ".dvc", levels=("team",))


def test_remote_options_merge_across_files(project: Path) -> None:
    cfg = load(project, '[remote "s"]\n    url = s3://b/p\n', local='[remote "s"]\n    jobs = 4\n')
    assert dict(cfg.remotes["s"]) == {"url": "s3://b/p", "jobs": 4}
    with pytest.raises(ConfigError) as info:
        load(project, "", local='[remote "t"]\n    jobs = 4\n')
    assert info.value.message == (
        "configuration error: .dvc/config.local: expected 'url': 'remote.t'"
    )


def test_level_files_follow_dvcs_environment_variables(tmp_path: Path) -> None:
    dvc_dir = tmp_path / ".dvc"
    env = {"HOME": "/home/u", "XDG_CONFIG_HOME": "", "XDG_CONFIG_DIRS": "relative:/also"}
    if sys.platform.startswith("linux"):
        assert config_path("global", dvc_dir, env) == Path("/home/u/.config/dvc/config")
        assert config_path("system", dvc_dir, env) == Path("/also/dvc/config")
        assert config_path("system", dvc_dir, {}) == Path("/etc/xdg/dvc/config")
    xdg = {"XDG_CONFIG_HOME": "/xdg", "HOME": "/home/u"}
    if sys.platform != "win32":
        assert config_path("global", dvc_dir, xdg) == Path("/xdg/dvc/config")
    override = {"DVC_GLOBAL_CONFIG_DIR": "/g", "DVC_SYSTEM_CONFIG_DIR": "/s", **xdg}
    assert config_path("global", dvc_dir, override) == Path("/g/config")
    assert config_path("system", dvc_dir, override) == Path("/s/config")
    assert config_path("repo", dvc_dir) == dvc_dir / "config"
    assert config_path("local", dvc_dir) == dvc_dir / "config.local"


def test_relative_paths_are_relative_to_their_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(project / "home"))
    cfg = load(project, "[cache]\n    dir = ../cache\n")
    assert cfg.cache_dir == project / "cache"
    cfg = load(project, "", **{"global": "[cache]\n    dir = shared/cache\n"})
    assert cfg.cache_dir == project / "home-dvc" / "shared" / "cache"
    cfg = load(project, "[cache]\n    dir = ~/c\n")
    assert cfg.cache_dir == project / "home" / "c"
    cfg = load(project, "[cache]\n    dir = /abs/c\n")
    assert cfg.cache_dir == Path("/abs/c")
    cfg = load(project, "", local='[remote "r"]\n    url = ../../st\n')
    assert cfg.remotes["r"]["url"] == str(project.parent / "st")
    cfg = load(project, '[remote "r"]\n    url = ssh://h/p\n    keyfile = k\n', local="")
    assert cfg.remotes["r"] == {"url": "ssh://h/p", "keyfile": str(project / ".dvc" / "k")}


def test_unreadable_files_are_config_errors(project: Path) -> None:
    (project / ".dvc" / "config").write_bytes(b"[core]\n    remote = \xff\n")
    with pytest.raises(ConfigError, match=r"\.dvc/config: not UTF-8"):
        load(project)
    (project / ".dvc" / "config").unlink()
    (project / ".dvc" / "config").mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        load(project)


# --- writing ------------------------------------------------------------------------------------


def test_set_option_creates_the_file_as_dvc_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "new" / ".dvc" / "config"
    set_option(path, "cache", "type", "hardlink,symlink")
    set_option(path, "core", "autostage", True)
    set_option(path, 'remote "myremote"', "url", "/tmp/st")
    set_option(path, "core", "remote", "myremote")
    set_option(path, "exp", "git_remote", "a b")
    assert path.read_text() == (
        '[cache]\n    type = "hardlink,symlink"\n'
        "[core]\n    autostage = True\n    remote = myremote\n"
        "[exp]\n    git_remote = a b\n"
        "['remote \"myremote\"']\n    url = /tmp/st\n"
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain", "plain"),
        ("a,b", '"a,b"'),
        (" lead", '" lead"'),
        ("trail ", '"trail "'),
        ("it's", "it's"),
        ('a"b', 'a"b'),
        ('"q"', "'\"q\"'"),
        ("'q'", "\"'q'\""),
        ("a#b", '"a#b"'),
        ("", '""'),
        ("x'y\"z", "'''x'y\"z'''"),
        ("two\nlines", "'''two\nlines'''"),
        ("has '''", "\"has '''\""),
        ("a'''b\"", "'''a'''b\"'''"),
        ('x"""y\'', '"""x"""y\'"""'),
    ],
)
def test_values_are_quoted_only_when_needed(tmp_path: Path, value: str, written: str) -> None:
    path = tmp_path / "config"
    set_option(path, "studio", "token", value)
    assert path.read_text() == f"[studio]\n    token = {written}\n"
    assert parse_ini(path.read_text())["studio"]["token"] == value


def test_rewrite_normalises_the_file_like_dvc(tmp_path: Path) -> None:
    path = tmp_path / ".dvc" / "config"
    path.parent.mkdir()
    path.write_text(
        "# a comment\n[Exp]\n  Auto_Push = TRUE  # inline\n"
        '[remote "MyR"]\n  url = ./st/../st2/\n'
        "[cache]\n  type = hardlink, symlink\n  dir = ./c/../cache2/\n"
        "[core]\n  remote = MyR\n"
    )
    set_option(path, "core", "no_scm", "false")
    assert path.read_text() == (
        "[exp]\n    auto_push = TRUE\n"
        "[cache]\n    type = hardlink, symlink\n    dir = cache2\n"
        "[core]\n    remote = MyR\n    no_scm = false\n"
        "['remote \"myr\"']\n    url = st2\n"
    )
    unset_option(path, "core", "remote")
    unset_option(path, "core", "no_scm")
    assert "[core]" not in path.read_text()


def test_named_sections_are_written_last_grouped_by_kind(tmp_path: Path) -> None:
    path = tmp_path / "config"
    set_option(path, 'db "d"', "url", "u")
    set_option(path, 'remote "b"', "url", "/b")
    set_option(path, 'machine "m"', "cloud", "aws")
    set_option(path, 'remote "a"', "url", "/a")
    set_option(path, "plots", "out_dir", "p")
    headers = [line for line in path.read_text().splitlines() if line.startswith("[")]
    assert headers == [
        "[plots]",
        "['remote \"b\"']",
        "['remote \"a\"']",
        "['machine \"m\"']",
        "['db \"d\"']",
    ]


def test_unset_errors_and_empty_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "config"
    set_option(path, "core", "autostage", "true")
    with pytest.raises(ConfigError) as info:
        unset_option(path, "core", "no_scm")
    assert info.value.message == (
        "configuration error: config: option 'no_scm' doesn't exist in section 'core'"
    )
    with pytest.raises(ConfigError, match="section 'bogus' doesn't exist"):
        unset_option(path, "bogus", "x")
    with pytest.raises(ConfigError, match="remote 'x' doesn't exist"):
        unset_option(path, 'remote "x"', "url")
    unset_option(path, "CORE", "AutoStage")
    assert path.read_bytes() == os.linesep.encode()


def test_invalid_writes_leave_the_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "config"
    set_option(path, "core", "autostage", "true")
    before = path.read_bytes()
    for section, option, value in [
        ("core", "bogus", "1"),
        ("core", "autostage", "yes"),
        ("cache", "type", "hardlink,foo"),
        ("parsing", "list", ""),
        ('remote "s"', "nonsense", "1"),
    ]:
        with pytest.raises(ConfigError):
            set_option(path, section, option, value)
        assert path.read_bytes() == before
    set_option(path, 'remote "s"', "region", "eu")  # its url may live in another file
    set_option(path, 'remote "s"', "url", "s3://b/p")
    with pytest.raises(ConfigError, match=r"extra keys not allowed: 'remote\.s\.region'"):
        set_option(path, 'remote "s"', "url", "/local")


def test_values_that_would_not_read_back_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "config"
    set_option(path, "studio", "url", "https://h")
    set_option(path, "studio", "repo_url", "%(url)s/repo")
    assert "repo_url = %(url)s/repo" in path.read_text()
    assert parse_ini(path.read_text())["studio"]["repo_url"] == "https://h/repo"
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="missing option 'nope'"):
        set_option(path, "studio", "token", "%(nope)s")
    assert path.read_bytes() == before


def test_writes_are_atomic_and_keep_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("[core]\n    autostage = true\n")
    path.chmod(0o640)
    set_option(path, "core", "no_scm", "true")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["config"]
    new = tmp_path / "fresh"
    set_option(new, "core", "no_scm", "true")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~umask


def test_written_file_loads_back(project: Path) -> None:
    path = project / ".dvc" / "config"
    set_option(path, "cache", "dir", "../elsewhere")
    set_option(path, "cache", "type", "symlink,copy")
    set_option(path, 'remote "Store"', "url", "s3://b/p")
    set_option(path, "core", "remote", "Store")
    cfg = load(project)
    assert cfg.cache_dir == project / "elsewhere"
    assert cfg.cache_types == ("symlink", "copy")
    assert cfg.core_remote == "store" and cfg.remotes["store"]["url"] == "s3://b/p"


def test_dump_round_trips_lists_and_refuses_unquotable_values() -> None:
    sections: Sections = {"cache": {"type": ("hardlink", "symlink")}, "s": {"a": (), "b": ("x,y",)}}
    text = dump_ini(sections)
    assert text.splitlines() == [
        "[cache]",
        "    type = hardlink, symlink",
        "[s]",
        "    a = ,",
        '    b = "x,y",',
    ]
    assert parse_ini(text) == sections
    with pytest.raises(ConfigError, match="cannot be quoted"):
        dump_ini({"s": {"k": "'''and\"\"\""}})
    with pytest.raises(ConfigError, match="cannot be quoted"):
        dump_ini({"s": {"k": ("'a\"",)}})


def test_import_needs_only_the_standard_library() -> None:
    code = (
        "import sys, labrun.config as c\n"
        "top = {m.split('.')[0] for m in sys.modules if not m.startswith('_')}\n"
        "extra = top - set(sys.stdlib_module_names)\n"
        "print(sorted(extra))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['labrun']"


@pytest.mark.parametrize(
    "path", ["a//./b/", "./", ".", "", "/", "//srv/x", "///x", "a/../b", "./.dvc/config", "x/."]
)
def test_paths_are_spelt_as_pathlib_spells_them(path: str) -> None:
    from labrun.config import _clean

    assert _clean(path) == str(Path(path))


def test_loading_needs_no_pathlib_and_paths_stay_paths(project: Path) -> None:
    code = (
        "import sys, labrun.config as c\n"
        "cfg = c.load_config('.dvc//', levels=('repo', 'local'))\n"
        "print('pathlib' in sys.modules, cfg.cache_root, cfg.files['repo'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=project
    ).stdout
    assert out.split() == ["False", ".dvc/cache", ".dvc/config"]
    cfg = load(project, "[cache]\n    dir = ../c\n")
    assert cfg.cache_dir == Path(cfg.cache_root) == project / "c"
    assert cfg.origin("cache", "dir") == project / ".dvc" / "config"
    assert config_path("repo", ".dvc//") == Path(".dvc/config")
