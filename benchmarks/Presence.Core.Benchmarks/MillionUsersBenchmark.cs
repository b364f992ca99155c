using BenchmarkDotNet.Attributes;

namespace Presence.Benchmarks;

/// <summary>Shared setup: one million connected users on a frozen clock, visited a batch at a time in a rolling window.</summary>
public abstract class MillionUsersBenchmark
{
    protected const int Batch = 1_000;
    private int _next;

    internal TrackedUsers Users { get; private set; } = null!;

    [GlobalSetup]
    public virtual void Setup()
    {
        Users = new TrackedUsers(new FrozenTimeProvider());
        Users.ConnectAll();
        Users.WaitUntilSettled(); // the set-up's background reads and saves are over before anything is measured
    }

    [GlobalCleanup]
    public void Cleanup() => Users.Engine.DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>A no-change heartbeat for each user of the next batch.</summary>
    protected void HeartbeatBatch()
    {
        var engine = Users.Engine;
        int start = NextStart();
        for (int i = start; i < start + Batch; i++)
        {
            engine.Heartbeat(Users.Users[i], Users.Devices[i]);
        }
    }

    /// <summary>The first user of the next batch.</summary>
    protected int NextStart()
    {
        int start = _next;
        _next = start + Batch >= TrackedUsers.Count ? 0 : start + Batch;
        return start;
    }
}
