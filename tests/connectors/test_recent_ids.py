"""The SDK's memory of calls already served: bounded, and a repeat within it is seen."""

from uuid import uuid4

from connectors.sdk import RecentIds


def test_a_repeat_is_seen_and_the_memory_forgets_the_oldest_beyond_its_size() -> None:
    recent = RecentIds(3)
    ids = [uuid4() for _ in range(4)]
    assert [recent.add(i) for i in ids[:3]] == [True, True, True]
    assert not recent.add(ids[1]), "a redelivered call is not served twice"
    assert recent.add(ids[3])  # the fourth pushes out the first
    assert recent.add(ids[0]), "beyond the last `size` ids, an id is new again"
    assert not recent.add(ids[3])
