from redis.cluster import RedisCluster


def test_cluster_forms_and_routes_keys_across_three_masters(redis_cluster_server, redis_cluster):
    assert isinstance(redis_cluster, RedisCluster)
    primaries = redis_cluster.get_primaries()
    assert len(primaries) == 3
    for i in range(60):
        redis_cluster.set(f"key:{i}", i)
    assert all(int(redis_cluster.get(f"key:{i}")) == i for i in range(60))
    # keys live on different nodes: each node's own DBSIZE is below the total
    sizes = [node.client().dbsize() for node in redis_cluster_server.nodes]
    assert sum(sizes) == 60
    assert all(0 < size < 60 for size in sizes)


def test_hash_tagged_keys_share_a_slot_for_multi_key_commands(redis_cluster):
    redis_cluster.mset_nonatomic({"{t}:a": 1, "{t}:b": 2})
    assert redis_cluster.keyslot("{t}:a") == redis_cluster.keyslot("{t}:b")
    result = redis_cluster.eval("return redis.call('MGET', KEYS[1], KEYS[2])", 2, "{t}:a", "{t}:b")
    assert result == [b"1", b"2"]
