using BenchmarkDotNet.Attributes;
using Presence.Internal;

namespace Presence.Benchmarks;

/// <summary>
/// Where a no-change heartbeat's time goes, layer by layer, over one million users: the user index alone, the
/// deterministic table (index, device, store the sync time), and the engine (validation, lock, clock, timer check).
/// </summary>
[MemoryDiagnoser]
public class HeartbeatBreakdownBenchmarks
{
    private const int Batch = 1_000;
    private readonly long _now = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
    private TrackedUsers _users = null!;
    private UserTable _table = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _users = new TrackedUsers(new FrozenTimeProvider());
        _users.ConnectAll();
        _table = new UserTable(new PresenceOptions { ServerName = ServerName.Parse("example.org") }, new NoObserver());
        for (int i = 0; i < TrackedUsers.Count; i++)
        {
            _table.Heartbeat(_users.Users[i], _users.Devices[i], null, _now);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _users.Engine.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int IndexLookup()
    {
        int sum = 0;
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            _table.TryFind(_users.Users[i], out int index);
            sum += index;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void TableHeartbeat()
    {
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            _table.Heartbeat(_users.Users[i], _users.Devices[i], null, _now);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void EngineHeartbeat()
    {
        var engine = _users.Engine;
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            engine.Heartbeat(_users.Users[i], _users.Devices[i]);
        }
    }

    private int NextStart()
    {
        int start = _next;
        _next = start + Batch >= TrackedUsers.Count ? 0 : start + Batch;
        return start;
    }

    private sealed class NoObserver : IUserTableObserver
    {
        public void OnPublished(int index, PresenceSnapshot snapshot)
        {
        }

        public void OnDirty(int index)
        {
        }

        public void OnDeviceDropped(DropReason reason)
        {
        }
    }
}
