"""The sshd hardening refuses, before it changes anything, settings that would shut Ansible out."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.ssh_lockout_risks import ssh_lockout_risks

ALLOW = ["webstack-ssh"]


def test_an_admin_in_the_allowed_group_passes():
    assert ssh_lockout_risks("admin", ["admin", "sudo", "webstack-ssh"], "ssh", "no", ALLOW) == []


def test_root_login_refused_while_ansible_logs_in_as_root():
    [risk] = ssh_lockout_risks("root", ["root", "webstack-ssh"], "ssh", "no", ALLOW)
    assert "Ansible logs in as root" in risk
    assert "common_ssh_permit_root_login" in risk


@pytest.mark.parametrize("value", ["prohibit-password", "yes"])
def test_root_with_keys_only_is_not_a_lockout(value):
    assert ssh_lockout_risks("root", ["root"], "ssh", value, []) == []


def test_forced_commands_only_would_lock_ansible_out_too():
    assert len(ssh_lockout_risks("root", ["root"], "ssh", "forced-commands-only", [])) == 1


def test_a_user_outside_the_allowed_groups_is_named_with_the_variable():
    [risk] = ssh_lockout_risks("deploy", ["deploy", "sudo"], "ssh", "no", ALLOW)
    assert "'deploy' (groups: deploy, sudo)" in risk
    assert "common_ssh_allow_groups" in risk
    assert "common_users" in risk


def test_an_operator_of_the_role_joins_the_group_in_the_same_run():
    assert ssh_lockout_risks("alice", ["alice"], "ssh", "no", ALLOW, operators=["alice"]) == []


def test_an_operator_the_run_removes_is_refused():
    [risk] = ssh_lockout_risks("mallory", ["webstack-ssh"], "ssh", "no", ALLOW, removed=["mallory"])
    assert "removes" in risk


def test_no_allow_groups_lets_any_user_in():
    assert ssh_lockout_risks("deploy", ["deploy"], "ssh", "no", []) == []


def test_root_outside_the_groups_gets_both_reasons():
    assert len(ssh_lockout_risks("root", ["root"], "ssh", "no", ALLOW)) == 2


@pytest.mark.parametrize("connection", ["containers.podman.podman", "local", "community.docker.docker"])
def test_connections_that_skip_sshd_cannot_be_locked_out(connection):
    assert ssh_lockout_risks("root", ["root"], connection, "no", ALLOW) == []


def test_an_unset_connection_is_ssh():
    assert ssh_lockout_risks("root", ["root"], None, "no", []) != []


def test_bad_input_is_refused():
    with pytest.raises(AnsibleFilterError, match="list of names"):
        ssh_lockout_risks("admin", "admin sudo", "ssh", "no", ALLOW)
    with pytest.raises(AnsibleFilterError, match="login user"):
        ssh_lockout_risks("", [], "ssh", "no", ALLOW)
