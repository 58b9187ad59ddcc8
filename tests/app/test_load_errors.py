"""ctrl+l of a crafted or damaged model file shows one message and keeps the session (issue 11, part 3)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.app.conftest import wait_until
from tests.nn.test_model_files import (bomb_member, header_of, members, pack, raw_zip, replaced, stored,
                                       with_header)


def crafted(kind: str, good: bytes) -> bytes:
    items = members(good)
    if kind == "garbage":
        return b"PK\x03\x04" + bytes(range(256)) * 4
    if kind == "truncated":
        return good[: len(good) // 2]
    if kind == "bomb":
        return raw_zip([bomb_member(4_000_000_000) if n == "w_0000.npy" else stored(n, d) for n, d in items])
    if kind == "markup class":
        header = replaced(header_of(items), ("model", "layers", 0, "class_name"), "[@click=app.quit]x[/]\x1b]0;t\x07")
        return pack(with_header(items, header))
    if kind == "edited dtype":
        header = header_of(items)
        header["weights"][0]["dtype"] = "<f8"
        return pack(with_header(items, header, resign=False))
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["garbage", "truncated", "bomb", "markup class", "edited dtype"])
async def test_loading_a_bad_model_file_keeps_the_session(make_test_app, tmp_path, kind):
    app = make_test_app("xor", epochs=3)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        good = tmp_path / "good.tuinet"
        app.session.model.save(good)
        bad = tmp_path / "bad.tuinet"
        bad.write_bytes(crafted(kind, good.read_bytes()))
        before = [w.copy() for w in app.session.model.get_weights()]
        session = app.session
        seen = []
        app.notify = lambda message, **kw: seen.append((kw.get("title", ""), message))  # what the user reads
        app.when_done(session.load_weights_from(str(bad)), app._loaded)
        await wait_until(pilot, lambda: seen, timeout=10, what="a message")
        title, message = seen[-1]
        assert title == "Load failed" and "bad.tuinet" in message, seen
        assert "\x1b" not in message and "\x07" not in message
        assert app.is_running and app.session is session  # the app and its session go on
        assert all(np.array_equal(a, b) for a, b in zip(before, session.model.get_weights()))
        await pilot.press("space")
        await wait_until(pilot, lambda: app.run_state in ("running", "finished"), what="training after it")
