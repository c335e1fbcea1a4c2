#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
module: files
short_description: Converge several small files and directories in one call
version_added: 0.1.0
description:
  - Makes directories, writes files with the given content, and removes paths, all in one module call.
  - The roles use it where several small configuration files go together. An M(ansible.builtin.copy) or
    M(ansible.builtin.template) task makes two calls per host even when nothing changes (a C(stat), then a
    C(file) call for the attributes), and each call starts a Python interpreter on the host; ten such tasks on
    ten hosts are two hundred interpreters where this module needs ten.
  - A file is rewritten only when its content differs, through a temporary file in the same directory that
    gets its owner, group and mode before it is renamed over the old one (a secret is never readable by others,
    not even for an instant). Owner, group and mode of an unchanged file or directory are set when they differ.
  - Template a file's content on the controller with the C(template) lookup, as the examples show.
author:
  - opsforge developers (@opsforge)
attributes:
  check_mode:
    support: full
    description:
      - Reports what would change and changes nothing. A path whose owner or group does not exist yet (an earlier
        task of the run would make it) counts as a change.
  diff_mode:
    support: full
    description: Shows the content before and after of each changed text file, and the paths made or removed.
options:
  files:
    description:
      - The paths to converge, in order (a directory before the files in it).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      state:
        description:
          - V(file) writes O(files[].content); V(directory) makes the directory, and its missing parents with the
            same owner, group and mode;
            V(absent) removes a file or symbolic link (never a directory), and ignores O(files[].content) and
            O(files[].mode), so that one entry can switch a file on and off with its state.
        type: str
        choices: [file, directory, absent]
        default: file
      content:
        description: The whole content of the file. Required with O(files[].state=file), not allowed for a directory.
        type: str
      owner:
        description: User owning the file or directory.
        type: str
        default: root
      group:
        description: Group owning the file or directory.
        type: str
        default: root
      validate:
        description:
          - A command that checks a new content before it replaces the file, with V(%s) standing for the path
            of the candidate (a temporary file in the same directory, with the final owner, group and mode).
            Run only when the content changes, and not in check mode. When it fails, the file is left as it
            was, the task fails with the command's output, and the entries after it are not converged.
          - Only with O(files[].state=file).
        type: str
      mode:
        description:
          - Octal permissions, quoted (V("0640")). Required with V(file) and V(directory), so that a file's mode is
            always chosen and never left to the umask.
        type: str
      keep_attributes:
        description:
          - An existing file or directory keeps its owner, group and mode; only a new one gets O(files[].owner),
            O(files[].group) and O(files[].mode). For a file that a package takes over after it is written (its
            postinst gives it to the package's user), which would otherwise change back and forth on every run.
        type: bool
        default: false
seealso:
  - module: ansible.builtin.copy
  - module: ansible.builtin.template
"""

EXAMPLES = r"""
- name: Write the login defaults
  opsforge.webstack.files:
    files:
      - path: /etc/security/limits.d
        state: directory
        mode: "0755"
      - path: /etc/security/limits.d/60-core.conf
        content: |
          *    hard    core    0
        mode: "0644"
      - path: /etc/sysctl.d/60-site.conf
        content: "{{ lookup('ansible.builtin.template', 'sysctl.conf.j2') }}"
        mode: "0644"
      - path: /etc/profile.d/old.sh
        state: absent
      - path: /etc/nftables.conf
        content: "{{ lookup('ansible.builtin.template', 'nftables.conf.j2') }}"
        mode: "0644"
        validate: /usr/sbin/nft --check --file %s
"""

RETURN = r"""
changed_paths:
  description: The paths that changed (or would, in check mode), in the order given.
  returned: always
  type: list
  elements: str
  sample: [/etc/sysctl.d/60-site.conf]
"""

import contextlib
import grp
import os
import pwd
import shlex
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

# The largest content shown in a diff; a larger file's diff names the change only.
DIFF_LIMIT = 64 * 1024


def input_error(entries: list[dict]):
    """The first thing wrong with the entries, as a message that says what to do, or None."""
    seen = set()
    for index, entry in enumerate(entries):
        path, state = entry["path"], entry["state"]
        where = f"files[{index}] ({path})"
        if not os.path.isabs(path):
            return f"{where}: the path must be absolute"
        if path in seen:
            return f"{where}: the path is given twice; give each path once"
        seen.add(path)
        if state == "file" and entry["content"] is None:
            return f"{where}: state=file needs content"
        if state == "directory" and entry["content"] is not None:
            return f"{where}: a directory has no content"
        if state != "file" and entry["validate"] is not None:
            return f"{where}: validate is only for state=file"
        if entry["validate"] is not None and "%s" not in entry["validate"]:
            return f"{where}: validate must contain %s, the path of the file to check"
        if state != "absent":
            if entry["mode"] is None:
                return f'{where}: give a mode (for example "0644"), it is never left to the umask'
            if parse_mode(entry["mode"]) is None:
                return f'{where}: mode {entry["mode"]!r} is not an octal mode such as "0644"'
    return None


def parse_mode(mode: str):
    try:
        value = int(str(mode), 8)
    except ValueError:
        return None
    return value if 0 <= value <= 0o7777 else None


def ids(entry: dict) -> tuple[int, int]:
    """(uid, gid) of the entry's owner and group; KeyError names an unknown one."""
    try:
        uid = pwd.getpwnam(entry["owner"]).pw_uid
    except KeyError:
        raise KeyError(f"{entry['path']}: no user {entry['owner']!r} on this host") from None
    try:
        gid = grp.getgrnam(entry["group"]).gr_gid
    except KeyError:
        raise KeyError(f"{entry['path']}: no group {entry['group']!r} on this host") from None
    return uid, gid


def attributes_differ(info: os.stat_result, uid: int, gid: int, mode: int) -> bool:
    return (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) != (uid, gid, mode)


def fix_attributes(path: str, info: os.stat_result, uid: int, gid: int, mode: int, check_mode: bool) -> bool:
    """Set owner, group and mode where they differ; whether anything did."""
    if not attributes_differ(info, uid, gid, mode):
        return False
    if not check_mode:
        os.chown(path, uid, gid)
        os.chmod(path, mode)
    return True


def wanted_attributes(entry: dict, info) -> tuple[int, int, int]:
    """(uid, gid, mode) the path should have: the entry's, or those it has when it exists and keeps them."""
    if entry["keep_attributes"] and info is not None:
        return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)
    return (*ids(entry), parse_mode(entry["mode"]))


def make_directories(path: str, uid: int, gid: int, mode: int) -> None:
    """Make path and its missing parents, each with the owner, group and mode given: not the session's umask,
    which would leave a parent that the service's user cannot enter (Debian 13 applies login.defs' 027)."""
    missing = []
    while not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        os.mkdir(directory)
        os.chown(directory, uid, gid)
        os.chmod(directory, mode)


def converge_directory(entry: dict, module):
    check_mode = module.check_mode
    path = entry["path"]
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    uid, gid, mode = wanted_attributes(entry, info)
    if info is None:
        if not check_mode:
            make_directories(path, uid, gid, mode)
        return True, {"before_header": path, "after_header": path, "before": "(absent)\n", "after": "(directory)\n"}
    if not stat.S_ISDIR(info.st_mode):
        raise ValueError(f"{path}: exists and is not a directory; remove it first")
    return fix_attributes(path, info, uid, gid, mode, check_mode), None


def converge_file(entry: dict, module):
    check_mode = module.check_mode
    path = entry["path"]
    wanted = entry["content"].encode()
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    uid, gid, mode = wanted_attributes(entry, info)
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path}: exists and is not a regular file; remove it first")
    current = None
    if info is not None:
        with open(path, "rb") as handle:
            current = handle.read()
    if current == wanted:
        return fix_attributes(path, info, uid, gid, mode, check_mode), None
    directory = os.path.dirname(path)
    # In check mode an earlier entry may only have reported the directory it would make.
    if not os.path.isdir(directory) and not check_mode:
        raise ValueError(f"{path}: the directory {directory} does not exist; add it to files first")
    if not check_mode:
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".webstack-files-")
        try:
            with os.fdopen(handle, "wb") as out:
                os.fchown(out.fileno(), uid, gid)
                os.fchmod(out.fileno(), mode)
                out.write(wanted)
                out.flush()
                os.fsync(out.fileno())
            if entry["validate"] is not None:
                check_candidate(entry["validate"], temporary, path, module.run_command)
            os.rename(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
    return True, content_diff(path, current, wanted)


class ValidationFailed(Exception):
    """The validate command refused the new content."""


def check_candidate(validate: str, candidate: str, path: str, run_command) -> None:
    command = validate.replace("%s", shlex.quote(candidate))
    rc, out, err = run_command(command)
    if rc != 0:
        output = " ".join((out + err).split())
        raise ValidationFailed(
            f"{path}: the new content failed `{validate}` (exit {rc}): {output}; the file is unchanged"
        )


def converge_absent(entry: dict, module):
    check_mode = module.check_mode
    path = entry["path"]
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False, None
    if stat.S_ISDIR(info.st_mode):
        raise ValueError(f"{path}: is a directory; state=absent removes files and symbolic links only")
    if not check_mode:
        os.unlink(path)
    return True, {"before_header": path, "after_header": path, "before": "(present)\n", "after": "(absent)\n"}


def content_diff(path: str, before: bytes, after: bytes) -> dict:
    def shown(data) -> str:
        if data is None:
            return ""
        if len(data) > DIFF_LIMIT:
            return f"({len(data)} bytes, too large to show)\n"
        try:
            return data.decode()
        except UnicodeDecodeError:
            return f"({len(data)} bytes of binary content)\n"

    return {"before_header": path, "after_header": path, "before": shown(before), "after": shown(after)}


# Each converges one entry (check mode and validate's commands from the module) and returns (changed, diff or None).
CONVERGE = {"file": converge_file, "directory": converge_directory, "absent": converge_absent}


def main():
    module = AnsibleModule(
        argument_spec={
            "files": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "path": {"type": "path", "required": True},
                    "state": {"type": "str", "choices": ["file", "directory", "absent"], "default": "file"},
                    "content": {"type": "str"},
                    "owner": {"type": "str", "default": "root"},
                    "group": {"type": "str", "default": "root"},
                    "mode": {"type": "str"},
                    "validate": {"type": "str"},
                    "keep_attributes": {"type": "bool", "default": False},
                },
            }
        },
        supports_check_mode=True,
    )
    entries = module.params["files"]
    error = input_error(entries)
    if error:
        module.fail_json(msg=error)
    changed_paths, diffs = [], []
    for entry in entries:
        try:
            changed, diff = CONVERGE[entry["state"]](entry, module)
        except KeyError as exc:
            # In check mode an earlier task of the run may only have reported the user or group it would make.
            if not module.check_mode:
                module.fail_json(msg=exc.args[0], changed=bool(changed_paths), changed_paths=changed_paths)
            changed, diff = True, None
        except (ValueError, OSError, ValidationFailed) as exc:
            module.fail_json(msg=str(exc), changed=bool(changed_paths), changed_paths=changed_paths)
        if changed:
            changed_paths.append(entry["path"])
            if diff is not None:
                diffs.append(diff)
    result = {"changed": bool(changed_paths), "changed_paths": changed_paths}
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
