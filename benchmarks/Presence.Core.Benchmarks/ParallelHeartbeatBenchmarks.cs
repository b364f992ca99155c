using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using Presence.Internal;

namespace Presence.Benchmarks;

/// <summary>
/// Throughput of no-change heartbeats (frozen clock, one million tracked users, random order) on one thread and on two
/// threads that work on different users. Each invocation makes the same total number of heartbeats
/// (<see cref="PerInvocation"/>), so the time per operation is wall time over that total and the two-thread speed-up is
/// <c>Op/s (two threads) / Op/s (one thread)</c>, or <c>1 / Ratio</c> within a category. Target: at least 1.7.
/// Baselines: one thread, per category; the <c>Dictionary</c> category (read-only lookups of the same user ID strings in
/// the same order) shows what the machine itself allows for two threads missing the cache.
/// </summary>
/// <remarks>
/// <para>Two ways of splitting the users between the threads: <c>DisjointUsers</c> gives each thread its own half of the
/// permutation (any user, so both threads take every shard's lock and write its lines); <c>DisjointShards</c> gives each
/// thread the users of half of the shards (by the engine's own stable hash), so the threads share no lock. The gap between
/// the two is the cost of threads meeting on a shard.</para>
/// <para>The benchmark thread is one of the workers; the second is a long-lived thread started at set-up and released by a
/// <see cref="Barrier"/> at the start and end of each invocation, so no thread start-up is measured (the barrier's
/// hand-over, a few microseconds, against an invocation of milliseconds). Set <c>PRESENCE_BENCH_USERS</c> for a smaller
/// check run.</para>
/// </remarks>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class ParallelHeartbeatBenchmarks
{
    /// <summary>Heartbeats (or lookups) per invocation, in total over the threads.</summary>
    public const int PerInvocation = 100_000;

    private readonly Barrier _barrier = new(2);
    private Thread? _worker;
    private volatile Action<int>? _work;
    private volatile bool _stopping;

    private TrackedUsers _engine = null!;
    private Dictionary<string, int> _dictionary = null!;
    private Slice _all = null!;
    private Slice[] _byUsers = null!;
    private Slice[] _byShards = null!;
    private Action<int> _heartbeatsByUsers = null!;
    private Action<int> _heartbeatsByShards = null!;
    private Action<int> _lookupsByUsers = null!;

    [GlobalSetup]
    public void Setup()
    {
        var ids = new UserIds(BenchmarkSize.Users);

        // The engine's default shard count, set explicitly so the split by shard knows it.
        int shardCount = Math.Clamp(Environment.ProcessorCount * 8, 2, PresenceOptions.MaxShardCount);
        _engine = new TrackedUsers(ids, new FrozenTimeProvider(), shardCount: shardCount);
        _engine.ConnectAll();
        _engine.WaitUntilSettled();
        _dictionary = new Dictionary<string, int>(ids.Count);
        for (int i = 0; i < ids.Count; i++)
        {
            _dictionary[ids.Users[i].Value] = i;
        }

        int[] order = RandomOrderHeartbeatBenchmarks.Permutation(ids.Count);
        _all = new Slice(ids, order);
        int half = order.Length / 2;
        _byUsers = [new Slice(ids, order[..half]), new Slice(ids, order[half..])];
        _byShards =
        [
            new Slice(ids, [.. order.Where(i => ShardOf(ids.Users[i], shardCount) % 2 == 0)]),
            new Slice(ids, [.. order.Where(i => ShardOf(ids.Users[i], shardCount) % 2 == 1)]),
        ];

        // Made once: a delegate per invocation would allocate.
        _heartbeatsByUsers = thread => Heartbeats(_byUsers[thread], PerInvocation / 2);
        _heartbeatsByShards = thread => Heartbeats(_byShards[thread], PerInvocation / 2);
        _lookupsByUsers = thread => Lookups(_byUsers[thread], PerInvocation / 2);
        _worker = new Thread(WorkerLoop) { IsBackground = true, Name = "Second heartbeat thread" };
        _worker.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stopping = true;
        _barrier.SignalAndWait();
        _worker?.Join();
        _engine.Engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = PerInvocation)]
    [BenchmarkCategory("Engine")]
    public void Engine_OneThread() => Heartbeats(_all, PerInvocation);

    [Benchmark(OperationsPerInvoke = PerInvocation)]
    [BenchmarkCategory("Engine")]
    public void Engine_TwoThreads_DisjointUsers() => OnTwoThreads(_heartbeatsByUsers);

    [Benchmark(OperationsPerInvoke = PerInvocation)]
    [BenchmarkCategory("Engine")]
    public void Engine_TwoThreads_DisjointShards() => OnTwoThreads(_heartbeatsByShards);

    [Benchmark(Baseline = true, OperationsPerInvoke = PerInvocation)]
    [BenchmarkCategory("Dictionary")]
    public int Dictionary_OneThread() => Lookups(_all, PerInvocation);

    [Benchmark(OperationsPerInvoke = PerInvocation)]
    [BenchmarkCategory("Dictionary")]
    public void Dictionary_TwoThreads() => OnTwoThreads(_lookupsByUsers);

    private static int ShardOf(UserId user, int shardCount) => StableHash.ShardOf(StableHash.Of(user), shardCount);

    private void Heartbeats(Slice slice, int count)
    {
        var engine = _engine.Engine;
        var users = slice.Users;
        var devices = slice.Devices;
        int at = slice.Next;
        for (int n = 0; n < count; n++)
        {
            engine.Heartbeat(users[at], devices[at]);
            if (++at == users.Length)
            {
                at = 0;
            }
        }

        slice.Next = at;
    }

    private int Lookups(Slice slice, int count)
    {
        var dictionary = _dictionary;
        var keys = slice.Keys;
        int at = slice.Next;
        int sum = 0;
        for (int n = 0; n < count; n++)
        {
            sum += dictionary[keys[at]];
            if (++at == keys.Length)
            {
                at = 0;
            }
        }

        slice.Next = at;
        return sum;
    }

    /// <summary>Runs <paramref name="work"/> for thread 0 here and for thread 1 on the worker; returns when both are done.</summary>
    private void OnTwoThreads(Action<int> work)
    {
        _work = work;
        _barrier.SignalAndWait(); // start
        work(0);
        _barrier.SignalAndWait(); // both done
    }

    private void WorkerLoop()
    {
        while (true)
        {
            _barrier.SignalAndWait();
            if (_stopping)
            {
                return;
            }

            _work!(1);
            _barrier.SignalAndWait();
        }
    }

    /// <summary>One thread's users in its order, with its own position (touched by that thread only).</summary>
    private sealed class Slice
    {
        public Slice(UserIds ids, int[] order)
        {
            Users = new UserId[order.Length];
            Keys = new string[order.Length];
            Devices = new string[order.Length];
            for (int k = 0; k < order.Length; k++)
            {
                Users[k] = ids.Users[order[k]];
                Keys[k] = Users[k].Value;
                Devices[k] = ids.Devices[order[k]];
            }
        }

        public UserId[] Users { get; }

        public string[] Keys { get; }

        public string[] Devices { get; }

        public int Next { get; set; }
    }

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig() => AddColumn(StatisticColumn.OperationsPerSecond);
    }
}
