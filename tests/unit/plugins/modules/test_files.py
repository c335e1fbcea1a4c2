# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""files: one call writes, fixes and removes several paths, changes only what differs, and refuses bad input."""

import os
import stat

import pytest
from ansible_collections.opsforge.webstack.plugins.modules import files as mod


def run(run_module_main, entries, **extra):
    return run_module_main(mod.main, {"files": entries, **extra})


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_writes_makes_and_removes_then_changes_nothing(tmp_path, run_module_main):
    old = tmp_path / "old.conf"
    old.write_text("x")
    entries = [
        {"path": str(tmp_path / "d"), "state": "directory", "mode": "0750"},
        {"path": str(tmp_path / "d" / "a.conf"), "content": "a=1\n", "mode": "0640"},
        {"path": str(old), "state": "absent"},
    ]
    code, result = run(run_module_main, entries)
    assert code == 0 and result["changed"]
    assert result["changed_paths"] == [str(tmp_path / "d"), str(tmp_path / "d" / "a.conf"), str(old)]
    assert (tmp_path / "d" / "a.conf").read_text() == "a=1\n"
    assert mode_of(tmp_path / "d") == 0o750 and mode_of(tmp_path / "d" / "a.conf") == 0o640
    assert not old.exists()
    assert not [p for p in (tmp_path / "d").iterdir() if p.name.startswith(".webstack-files-")]

    code, result = run(run_module_main, entries)
    assert code == 0 and not result["changed"] and result["changed_paths"] == []


def test_fixes_the_mode_of_a_file_whose_content_is_right(tmp_path, run_module_main):
    target = tmp_path / "a.conf"
    target.write_text("a=1\n")
    target.chmod(0o666)
    code, result = run(run_module_main, [{"path": str(target), "content": "a=1\n", "mode": "0600"}])
    assert code == 0 and result["changed_paths"] == [str(target)]
    assert mode_of(target) == 0o600


def test_check_mode_reports_and_changes_nothing_with_a_diff(tmp_path, run_module_main):
    target = tmp_path / "a.conf"
    target.write_text("a=1\n")
    code, result = run(
        run_module_main,
        [{"path": str(target), "content": "a=2\n", "mode": "0644"}],
        _ansible_check_mode=True,
        _ansible_diff=True,
    )
    assert code == 0 and result["changed"]
    assert target.read_text() == "a=1\n"
    assert result["diff"] == [
        {"before_header": str(target), "after_header": str(target), "before": "a=1\n", "after": "a=2\n"}
    ]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"path": "relative.conf", "content": "x", "mode": "0644"}], "must be absolute"),
        ([{"path": "/tmp/a", "mode": "0644"}], "state=file needs content"),
        ([{"path": "/tmp/a", "content": "x"}], "give a mode"),
        ([{"path": "/tmp/a", "content": "x", "mode": "rw-r--r--"}], "not an octal mode"),
        ([{"path": "/tmp/a", "state": "directory", "content": "x", "mode": "0755"}], "a directory has no content"),
        ([{"path": "/tmp/a", "state": "absent"}, {"path": "/tmp/a", "state": "absent"}], "given twice"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(entries, message, run_module_main):
    code, result = run(run_module_main, entries)
    assert code == 1 and message in result["msg"]


def test_an_unknown_owner_fails_and_names_it(tmp_path, run_module_main):
    target = tmp_path / "a.conf"
    code, result = run(run_module_main, [{"path": str(target), "content": "x", "mode": "0644", "owner": "nobody-here"}])
    assert code == 1 and "no user 'nobody-here'" in result["msg"]
    assert not target.exists()


def test_check_mode_counts_a_path_whose_group_is_not_made_yet_as_a_change(tmp_path, run_module_main):
    target = tmp_path / "a.conf"
    entries = [{"path": str(target), "content": "x", "mode": "0640", "group": "made-later"}]
    code, result = run(run_module_main, entries, _ansible_check_mode=True)
    assert code == 0 and result["changed_paths"] == [str(target)]
    assert not target.exists()


def test_a_missing_directory_and_a_directory_to_remove_are_refused(tmp_path, run_module_main):
    code, result = run(run_module_main, [{"path": str(tmp_path / "no" / "a"), "content": "x", "mode": "0644"}])
    assert code == 1 and "does not exist" in result["msg"]
    code, result = run(run_module_main, [{"path": str(tmp_path), "state": "absent"}])
    assert code == 1 and "is a directory" in result["msg"]
    assert tmp_path.is_dir()


def test_absent_ignores_content_and_mode_so_one_entry_can_switch_a_file(tmp_path, run_module_main):
    target = tmp_path / "a.conf"
    target.write_text("x")
    code, result = run(run_module_main, [{"path": str(target), "state": "absent", "content": "x", "mode": "0644"}])
    assert code == 0 and result["changed"] and not target.exists()


def test_a_candidate_that_fails_validate_leaves_the_file_as_it_was(tmp_path, run_module_main):
    target = tmp_path / "a.conf"
    target.write_text("good\n")
    entries = [{"path": str(target), "content": "bad\n", "mode": "0644", "validate": "grep -q good %s"}]
    code, result = run(run_module_main, entries)
    assert code == 1 and "failed `grep -q good %s` (exit 1)" in result["msg"]
    assert target.read_text() == "good\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.conf"]

    entries[0]["validate"] = "grep -q bad %s"
    code, result = run(run_module_main, entries)
    assert code == 0 and target.read_text() == "bad\n"


def test_validate_needs_the_candidates_placeholder(tmp_path, run_module_main):
    code, result = run(
        run_module_main, [{"path": str(tmp_path / "a"), "content": "x", "mode": "0644", "validate": "true"}]
    )
    assert code == 1 and "must contain %s" in result["msg"]


def test_check_mode_on_a_new_host_reports_a_directory_and_the_files_in_it(tmp_path, run_module_main):
    entries = [
        {"path": str(tmp_path / "d"), "state": "directory", "mode": "0755"},
        {"path": str(tmp_path / "d" / "a.conf"), "content": "a=1\n", "mode": "0644"},
    ]
    code, result = run(run_module_main, entries, _ansible_check_mode=True)
    assert code == 0 and result["changed_paths"] == [entry["path"] for entry in entries]
    assert not (tmp_path / "d").exists()


def test_keep_attributes_leaves_an_existing_files_owner_and_mode_and_sets_a_new_ones(tmp_path, run_module_main):
    taken = tmp_path / "taken"
    taken.write_text("A=1\n")
    taken.chmod(0o604)
    os.chown(taken, 65534, 65534)
    new = tmp_path / "new"
    entries = [
        {"path": str(taken), "content": "A=2\n", "mode": "0640", "keep_attributes": True},
        {"path": str(new), "content": "B=1\n", "mode": "0640", "keep_attributes": True},
    ]
    code, result = run(run_module_main, entries)
    assert code == 0 and result["changed_paths"] == [str(taken), str(new)]
    assert taken.read_text() == "A=2\n"
    assert (mode_of(taken), os.stat(taken).st_uid, os.stat(taken).st_gid) == (0o604, 65534, 65534)
    assert (mode_of(new), os.stat(new).st_uid) == (0o640, 0)

    code, result = run(run_module_main, entries)
    assert code == 0 and not result["changed"]


def test_missing_parents_get_the_directorys_mode_not_the_umask(tmp_path, run_module_main):
    old_umask = os.umask(0o027)
    try:
        code, result = run(run_module_main, [{"path": str(tmp_path / "a" / "b"), "state": "directory", "mode": "0755"}])
    finally:
        os.umask(old_umask)
    assert code == 0 and result["changed_paths"] == [str(tmp_path / "a" / "b")]
    assert mode_of(tmp_path / "a") == 0o755 and mode_of(tmp_path / "a" / "b") == 0o755
