using BenchmarkDotNet.Attributes;

namespace Presence.Benchmarks;

/// <summary>
/// A no-change heartbeat (<see cref="IPresenceEngine.Heartbeat"/> from a connected device, frozen clock) across one million
/// tracked users visited in a random order, so each call pays the cache misses a real server's syncs cause (the users'
/// slot order of <see cref="HeartbeatBenchmarks"/> hides them). Baseline: a <see cref="Dictionary{TKey, TValue}"/> lookup
/// of the same user ID strings, in the same order — the least any engine must do. Target: the heartbeat at most 1.5 times
/// the baseline, and 0 B allocated. The engine runs with the default shard count and with one shard (the shard cost).
/// </summary>
/// <remarks>
/// One permutation of the users (fixed seed) is drawn at set-up; every method walks it in the same order, a batch of
/// <see cref="Batch"/> calls per invocation, wrapping around. The user and device IDs are copied into arrays in that order,
/// so reading the next ID is sequential for every method: the host already holds the request's IDs, and misses on the
/// benchmark's own arrays would only add the same constant to both sides of the ratio. The ID strings themselves stay where
/// they were allocated, so reading one is as random as the order. Set <c>PRESENCE_BENCH_USERS</c> for a smaller check run.
/// </remarks>
[MemoryDiagnoser]
public class RandomOrderHeartbeatBenchmarks
{
    private const int Batch = 1_000;
    private const int Seed = 20_260_101;

    private UserIds _ids = null!;
    private string[] _keys = null!;
    private UserId[] _users = null!;
    private string[] _devices = null!;
    private Dictionary<string, int> _dictionary = null!;
    private TrackedUsers? _engine;
    private int _next;

    /// <summary>The users' order: a fixed random permutation of their indices.</summary>
    internal static int[] Permutation(int count)
    {
        int[] order = new int[count];
        for (int i = 0; i < count; i++)
        {
            order[i] = i;
        }

        new Random(Seed).Shuffle(order);
        return order;
    }

    [GlobalSetup(Target = nameof(DictionaryLookup))]
    public void SetupDictionary()
    {
        Prepare();
        _dictionary = new Dictionary<string, int>(_ids.Count);
        for (int i = 0; i < _ids.Count; i++)
        {
            _dictionary[_ids.Users[i].Value] = i;
        }
    }

    [GlobalSetup(Target = nameof(Heartbeat_NoChange))]
    public void SetupEngine() => SetupEngine(shardCount: 0);

    [GlobalSetup(Target = nameof(Heartbeat_NoChange_OneShard))]
    public void SetupOneShardEngine() => SetupEngine(shardCount: 1);

    [GlobalCleanup]
    public void Cleanup() => _engine?.Engine.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int DictionaryLookup()
    {
        var dictionary = _dictionary;
        var keys = _keys;
        int sum = 0;
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            sum += dictionary[keys[i]];
        }

        return sum;
    }

    /// <summary>The default shard count (eight per processor).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void Heartbeat_NoChange() => HeartbeatBatch();

    /// <summary>One shard: every user behind one lock, one index and one slot array.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void Heartbeat_NoChange_OneShard() => HeartbeatBatch();

    private void HeartbeatBatch()
    {
        var engine = _engine!.Engine;
        var users = _users;
        var devices = _devices;
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            engine.Heartbeat(users[i], devices[i]);
        }
    }

    private void SetupEngine(int shardCount)
    {
        Prepare();
        _engine = new TrackedUsers(_ids, new FrozenTimeProvider(), shardCount: shardCount);
        _engine.ConnectAll();
        _engine.WaitUntilSettled();
    }

    private void Prepare()
    {
        _ids = new UserIds(BenchmarkSize.Users);
        int[] order = Permutation(_ids.Count);

        // Whole batches only, so a batch never runs past the end.
        int length = _ids.Count / Batch * Batch;
        _keys = new string[length];
        _users = new UserId[length];
        _devices = new string[length];
        for (int k = 0; k < length; k++)
        {
            _users[k] = _ids.Users[order[k]];
            _keys[k] = _users[k].Value;
            _devices[k] = _ids.Devices[order[k]];
        }
    }

    private int NextStart()
    {
        int start = _next;
        _next = start + Batch >= _users.Length ? 0 : start + Batch;
        return start;
    }
}
