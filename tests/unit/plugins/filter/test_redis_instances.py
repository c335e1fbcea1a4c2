# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each Redis instance gets its own unit and files; eviction is refused where Celery queues."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.redis_eviction_risks import redis_eviction_risks
from ansible_collections.opsforge.webstack.plugins.filter.redis_instances import redis_instances

DEFAULTS = {"port": 6379, "users": ["app", "celery", "admin"], "maxmemory": "512mb", "maxmemory_policy": "noeviction"}


def test_main_is_debians_own_unit_and_files():
    (main,) = redis_instances([{"name": "main"}], **DEFAULTS)
    assert main == {
        "name": "main",
        "port": 6379,
        "users": ["app", "celery", "admin"],
        "maxmemory": "512mb",
        "maxmemory_policy": "noeviction",
        "service": "redis-server.service",
        "unit": "redis-server.service",
        "conf": "/etc/redis/redis.conf",
        "acl_file": "/etc/redis/users.acl",
        "data_dir": "/var/lib/redis",
        "pidfile": "/run/redis/redis-server.pid",
        "logfile": "/var/log/redis/redis-server.log",
    }


def test_another_instance_has_the_template_unit_and_files_of_its_own():
    entries = [{"name": "main", "users": ["app", "admin"]}, {"name": "broker", "port": "6380", "maxmemory": "64mb"}]
    main, broker = redis_instances(entries, **DEFAULTS)
    assert main["users"] == ["app", "admin"] and main["port"] == 6379
    assert broker["port"] == 6380 and broker["maxmemory"] == "64mb" and broker["users"] == DEFAULTS["users"]
    assert broker["service"] == "redis-server@broker.service"
    assert broker["unit"] == "redis-server@.service"
    assert broker["conf"] == "/etc/redis/redis-broker.conf"
    assert broker["acl_file"] == "/etc/redis/users-broker.acl"
    assert broker["data_dir"] == "/var/lib/redis/broker"
    assert broker["pidfile"] == "/run/redis-broker/redis-server.pid"
    assert entries[1] == {"name": "broker", "port": "6380", "maxmemory": "64mb"}, "the input is left alone"


@pytest.mark.parametrize("bad", ["main", {"name": "main"}, [{"port": 6379}], [None]])
def test_entries_need_a_name(bad):
    with pytest.raises(AnsibleFilterError):
        redis_instances(bad, **DEFAULTS)


def test_eviction_refused_only_where_a_broker_user_is_let_in():
    instances = redis_instances(
        [
            {"name": "main", "users": ["app", "admin"], "maxmemory_policy": "allkeys-lru"},
            {"name": "broker", "port": 6380, "users": ["celery", "admin"]},
            {"name": "shared", "port": 6381, "maxmemory_policy": "volatile-lru"},
        ],
        **DEFAULTS,
    )
    risks = redis_eviction_risks(instances, ["celery"])
    assert [(risk["name"], risk["broker_users"]) for risk in risks] == [("shared", ["celery"])]
    assert redis_eviction_risks(instances, []) == []
    with pytest.raises(AnsibleFilterError):
        redis_eviction_risks(instances, "celery")
