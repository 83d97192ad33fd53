"""Progress bars obey the caller and TQDM_DISABLE (the tour sets it, so stored chapters hold no frozen bar)."""

from faceswap_core.progress import bars_disabled, progress_bar


def test_bars_follow_the_caller_and_the_environment(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert not bars_disabled()
    assert not progress_bar(total=2).disable and progress_bar(total=2, enabled=False).disable
    for value in ("1", "true", "YES"):
        monkeypatch.setenv("TQDM_DISABLE", value)
        assert bars_disabled() and progress_bar(range(3)).disable
        assert list(progress_bar(range(3))) == [0, 1, 2]  # a disabled bar still iterates
    monkeypatch.setenv("TQDM_DISABLE", "0")
    assert not bars_disabled()
