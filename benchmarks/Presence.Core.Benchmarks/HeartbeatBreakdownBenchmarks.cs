using BenchmarkDotNet.Attributes;
using Presence.Internal;

namespace Presence.Benchmarks;

/// <summary>
/// Where a no-change heartbeat's time goes, layer by layer, over one million users: the user index alone, the
/// deterministic table (index, device, store the sync time), and the engine (validation, lock, clock, timer check).
/// </summary>
[MemoryDiagnoser]
public class HeartbeatBreakdownBenchmarks : MillionUsersBenchmark
{
    private readonly FrozenTimeProvider _clock = new();
    private long _now;
    private UserTable _table = null!;

    public override void Setup()
    {
        base.Setup();
        _now = _clock.GetTimestamp();
        _table = new UserTable(new PresenceOptions { ServerName = ServerName.Parse("example.org") }, new NoObserver(), new TimeBase(_clock));
        for (int i = 0; i < TrackedUsers.Count; i++)
        {
            _table.Heartbeat(Users.Users[i], Users.Devices[i], null, _now);
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int IndexLookup()
    {
        int sum = 0;
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            _table.TryFind(Users.Users[i], out int index);
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
            _table.Heartbeat(Users.Users[i], Users.Devices[i], null, _now);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void EngineHeartbeat()
    {
        HeartbeatBatch();
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

        public bool TryLoadNow(UserId user, out PresenceRecord? record)
        {
            record = null;
            return true;
        }

        public void OnEvictable(UserId user)
        {
        }
    }
}
