import json
import os
import stat

import pytest

from jaxdip.io import atomic_path, write_json


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_gets_the_umask_mode_and_an_existing_file_keeps_its_mode(tmp_path):
    old = os.umask(0o027)
    try:
        write_json(tmp_path / "new.json", {"a": 1})
        assert _mode(tmp_path / "new.json") == 0o640
        kept = tmp_path / "kept.json"
        kept.write_text("{}")
        os.chmod(kept, 0o604)
        write_json(kept, [1, 2])
        assert _mode(kept) == 0o604
        assert json.loads(kept.read_text()) == [1, 2]
    finally:
        os.umask(old)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
