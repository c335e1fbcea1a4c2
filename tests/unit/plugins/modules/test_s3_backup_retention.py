# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from datetime import datetime, timezone

import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils import s3 as s3u
from ansible_collections.opsforge.webstack.plugins.modules import s3_backup_retention as mod

ARGS = {"bucket": "b", "access_key": "a", "secret_key": "test-secret-value", "prefix": "p/", "keep_daily": 1,
        "keep_weekly": 0, "keep_monthly": 0}  # fmt: skip
KEYS = ["p/shop-20260301T020000Z.dump", "p/shop-20260302T020000Z.dump", "p/shop-20260303T020000Z.dump"]


class FakeS3:
    def __init__(self, keys):
        self.objects = {key: datetime(2026, 3, 4, tzinfo=timezone.utc) for key in keys}
        self.deleted = []

    def get_paginator(self, _name):
        return self

    def paginate(self, **kwargs):
        keys = sorted(k for k in self.objects if k.startswith(kwargs["Prefix"]))
        size = kwargs["PaginationConfig"]["PageSize"]
        for start in range(0, len(keys), size):
            yield {"Contents": [{"Key": k, "LastModified": self.objects[k]} for k in keys[start : start + size]]}

    def delete_objects(self, Bucket, Delete):
        keys = [item["Key"] for item in Delete["Objects"]]
        self.deleted.extend(keys)
        return {"Deleted": [{"Key": key} for key in keys]}


@pytest.fixture
def fake(monkeypatch):
    store = FakeS3([*KEYS, KEYS[0] + ".sha256", "p/notes.txt"])
    monkeypatch.setattr(s3u, "client", lambda module: store)
    return store


def test_check_mode_reports_and_deletes_nothing(fake, run_module_main):
    code, result = run_module_main(mod.main, dict(ARGS, _ansible_check_mode=True, page_size=2))
    assert code == 0 and result["changed"] is True and fake.deleted == []
    assert [k["key"] for k in result["keep"]] == [KEYS[2]]
    assert [d["key"] for d in result["delete"]] == [KEYS[1], KEYS[0]]
    assert result["ignored"] == ["p/notes.txt"] and result["objects_listed"] == 5


def test_deletes_dumps_with_their_checksums_never_the_newest(fake, run_module_main):
    code, result = run_module_main(mod.main, dict(ARGS, keep_daily=0))
    assert code == 0 and result["changed"] is True
    assert fake.deleted == [KEYS[1], KEYS[0], KEYS[0] + ".sha256"] == result["deleted_keys"]
    assert [k["reasons"] for k in result["keep"]] == [["newest"]]


def test_bad_limits_and_patterns_are_refused(fake, run_module_main):
    code, result = run_module_main(mod.main, dict(ARGS, keep_monthly=-2))
    assert code == 1 and "keep_monthly must be 0 or more" in result["msg"]
    code, result = run_module_main(mod.main, dict(ARGS, name_pattern="(?P<ts>"))
    assert code == 1 and "name_pattern" in result["msg"]
    code, result = run_module_main(mod.main, dict(ARGS, page_size=5000))
    assert code == 1 and "page_size must be between 1 and 1000" in result["msg"]
