"""The result cache: keys, atomic writes, concurrent writers, versions."""
import json
import multiprocessing
import time

from sim.explore.cache import ResultCache, cache_key, model_version, rtl_version, source_version


def test_keys_follow_everything_given():
    assert cache_key("migration", {"a": 1, "b": [1, 2]}) == \
        cache_key("migration", {"b": [1, 2], "a": 1})
    assert cache_key("migration", {"a": 1}) != cache_key("migration", {"a": 2})
    assert cache_key("migration", {"a": 1}) != cache_key("area", {"a": 1})


def test_versions_hash_the_sources():
    assert len(model_version()) == 16 and model_version() != rtl_version()
    assert source_version(("hw",)) == rtl_version()


def test_get_put_and_missing(tmp_path):
    cache = ResultCache(tmp_path)
    key = cache_key("x", 1)
    assert cache.get(key) is None
    cache.put(key, {"gbps": 1.5})
    assert cache.get(key) == {"gbps": 1.5} and len(cache) == 1
    # A file that is not a whole entry (not ours) reads as missing.
    cache.path(key).write_text('{"gbps": 1.')
    assert cache.get(key) is None


def _writer(root, key, payload, times):
    cache = ResultCache(root)
    for _ in range(times):
        cache.put(key, payload)


def _reader(root, key, times, queue):
    """Reads ``times`` times from the first entry on (within a minute)."""
    cache = ResultCache(root)
    seen, reads, deadline = set(), 0, time.time() + 60
    while reads < times and time.time() < deadline:
        value = cache.get(key)
        if value is not None:
            seen.add(json.dumps(value, sort_keys=True))
            reads += 1
    queue.put(sorted(seen))


def test_concurrent_writers_never_leave_a_partial_entry(tmp_path):
    key = cache_key("x", "shared")
    big = {"rows": list(range(20000))}
    other = {"rows": list(range(20000, 40000))}
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_writer, args=(tmp_path, key, big, 60)),
                 context.Process(target=_writer, args=(tmp_path, key, other, 60)),
                 context.Process(target=_reader, args=(tmp_path, key, 400, queue))]
    for p in processes:
        p.start()
    seen = queue.get(timeout=120)
    for p in processes:
        p.join(timeout=120)
        assert p.exitcode == 0
    # Every read was one whole entry of one writer, never a mix or a fragment.
    assert seen and set(seen) <= {json.dumps(big, sort_keys=True),
                                  json.dumps(other, sort_keys=True)}
    assert ResultCache(tmp_path).get(key) in (big, other)
    assert not list(tmp_path.glob("*/.*.tmp"))          # no temporary file left behind
